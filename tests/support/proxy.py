"""A reverse proxy that adds request headers, as Databricks Apps or an SSO proxy in front of the app
does: every HTTP request and the WebSocket upgrade (where Streamlit reads ``st.context.headers``)
reach the upstream with the extra headers. A browser cannot be asked to do this: Chromium does not
add Playwright's ``extra_http_headers`` to a WebSocket handshake.

``python -m tests.support.proxy --port P --upstream http://127.0.0.1:U --header "Name: value"``
(started and stopped by PID: :func:`tests.support.servers.header_proxy`).
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

# Not forwarded either way (RFC 9110 §7.6.1), plus what aiohttp sets itself.
HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
WS_OWN = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"}


def make_app(upstream: str, extra: dict[str, str]) -> web.Application:
    async def start(app: web.Application) -> None:
        app["client"] = aiohttp.ClientSession(auto_decompress=False)

    async def stop(app: web.Application) -> None:
        await app["client"].close()

    def outgoing(request: web.Request, skip: set[str] = HOP) -> CIMultiDict[str]:
        """The client's headers (repeated ones kept) with ``extra`` replacing any it sent itself,
        as a proxy must (a client cannot assert its own identity through it)."""
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in skip)
        headers.update(extra)
        return headers

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        async with request.app["client"].ws_connect(
            upstream + request.path_qs, headers=outgoing(request, HOP | WS_OWN), protocols=offered
        ) as up:
            down = web.WebSocketResponse(protocols=[up.protocol] if up.protocol else ())
            await down.prepare(request)

            async def pump(src, dst) -> None:
                async for msg in src:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        await dst.send_bytes(msg.data)
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        await dst.send_str(msg.data)
                    else:
                        break
                await dst.close()

            await asyncio.gather(pump(down, up), pump(up, down), return_exceptions=True)
            return down

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await websocket(request)
        async with request.app["client"].request(
            request.method,
            upstream + request.path_qs,
            headers=outgoing(request),
            data=await request.read(),
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
            headers = CIMultiDict((k, v) for k, v in resp.headers.items() if k.lower() not in HOP)  # Set-Cookie x N
            return web.Response(status=resp.status, headers=headers, body=body)

    app = web.Application()
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--header", action="append", default=[], help='"Name: value"')
    args = parser.parse_args()
    extra = dict(tuple(part.strip() for part in h.split(":", 1)) for h in args.header)
    web.run_app(make_app(args.upstream.rstrip("/"), extra), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
