"""Promotion CLI: ``gate``, ``approve``, ``reject``, ``rollback``, ``versions``, ``audit`` (spec).

Exit codes: 0 done; 2 bad usage/input (unknown model or version, missing comment, no user,
credentials the tracking server rejects); 3 refused (role, four-eyes, gate failed, stale state, a
``--user`` other than the user the tracking server authenticated, no registry permission) with
the reason on stderr and nothing changed. ``--format json`` prints only JSON on stdout.

Identity (:mod:`services.promotion.identity`): when the tracking server authenticates (MLflow basic auth,
Databricks) the decision is made and audited as that user; otherwise ``--user`` /
``DRIFTGATE_USER`` is recorded as ``self-asserted`` (audit field ``identity``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from services.commands.common import add_config, add_format, print_json, settings_from_args
from services.config import Settings
from services.registry.views import normalise_version

# The services below are imported inside the handlers: importing them (MLflow, SQLAlchemy, the
# drift engine) costs 7.6 s at a loaded CLI start (measured, load 24) that `drift` and the other
# commands must not pay.
Handler = Callable[[Settings, str, Any, str], dict[str, Any]]


def _client(settings: Settings) -> Any:
    from services.registry.mlflow_client import make_client

    return make_client(settings)


def _identity(settings: Settings, args: argparse.Namespace, action: str, version: str | None = None) -> Any:
    """Who decides (authenticated by the tracking server, else self-asserted); see services.promotion.identity."""
    from services.promotion.identity import resolve

    ident = resolve(settings, args.user, action=action, model=args.model, version=version)
    env = os.environ.get("DRIFTGATE_USER")
    if ident.authenticated and not args.user and env and env.strip().lower() != str(ident.user).lower():
        print(f"note: DRIFTGATE_USER={env} ignored: the tracking server authenticated {ident.user}", file=sys.stderr)
    return ident


def _decide(args: argparse.Namespace, action: str, run: Handler) -> int:
    from services.promotion.approvals import clean_comment

    if getattr(args, "version", None) is not None:  # bad input first: before any connection
        args.version = normalise_version(args.version)
    settings = settings_from_args(args)
    if action in ("reject", "rollback"):  # usage first: a missing comment is exit 2, never audited
        clean_comment(args.comment, required=True, what=f"a {'rejection' if action == 'reject' else action}")
    ident = _identity(settings, args, action, getattr(args, "version", None))
    rec = run(settings, ident.user, _client(settings), ident.source)
    _print_decision(args, rec, ident.source)
    return 0


def _gate(args: argparse.Namespace) -> int:
    from services.promotion.gate import evaluate

    version = normalise_version(args.version)  # bad input first: before any connection
    settings = settings_from_args(args)
    res = evaluate(settings, _client(settings), args.model, version)
    doc = res.to_json()
    if args.format == "json":
        print_json(doc)
    else:
        print(
            f"{doc['model']} version {doc['version']}: gate {'PASSED' if doc['passed'] else 'FAILED'} "
            f"(champion: {doc['champion'] or 'none'})"
        )
        for c in res.checks:
            kind = "required" if c.required else "advisory"
            print(f"  [{c.status.upper():4}] {c.name} ({kind}): {c.detail}")
    return 0


def _print_decision(args: argparse.Namespace, rec: dict[str, Any], identity: str) -> None:
    from services.promotion.audit.export import spec_record

    doc = spec_record(rec) | {"identity": identity}
    if args.format == "json":
        print_json(doc)
    else:
        print(f"{doc['action']} {doc['outcome']}: {doc['reason']}")


def _decision(action: str) -> Callable[[argparse.Namespace], int]:
    """The handler of ``approve`` / ``reject`` / ``rollback``."""

    def handler(args: argparse.Namespace) -> int:
        from services.promotion import approvals

        def run(settings: Settings, user: str, client: Any, identity: str) -> dict[str, Any]:
            if action == "rollback":
                return approvals.rollback(settings, args.model, user, args.comment, client=client, identity=identity)
            decide = approvals.approve if action == "approve" else approvals.reject
            return decide(settings, args.model, args.version, user, args.comment, client=client, identity=identity)

        return _decide(args, action, run)

    return handler


def _versions(args: argparse.Namespace) -> int:
    from services.registry.lifecycle import list_versions

    settings = settings_from_args(args)
    doc = list_versions(settings, _client(settings), args.model)
    if args.format == "json":
        print_json(doc)
    else:
        print(f"{doc['model']} ({doc['lifecycle']})")
        for v in doc["versions"]:
            print(
                f"  v{v['version']:>4}  {v['state']:<9}  stage={v['stage']:<10} aliases={','.join(v['aliases']) or '-'}  by {v['created_by'] or '?'}"
            )
    return 0


def _audit(args: argparse.Namespace) -> int:
    from services.promotion import audit

    settings = settings_from_args(args)
    recs = audit.query(settings, model=args.model, limit=args.limit)
    doc = {"records": [audit.spec_record(r) for r in recs]}
    if args.format == "json":
        print_json(doc)
    else:
        for r in doc["records"]:
            r = {k: _printable(v) if v is not None else None for k, v in r.items()}
            who = f"{r['user'] or '-'} [self-asserted]" if r.get("identity") == "self-asserted" else (r["user"] or "-")
            line = f"{r['at']}  {who:<10} {r['action']:<8} {r['outcome']:<8} {r['model']} v{r['version'] or '-'}"
            if r["reason"]:
                line += f"  {r['reason']}"
            print(line)
    return 0


def _limit(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text[:8]) <= 1_000_000 or len(text) > 7:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000000, not {text[:20]!r}")
    return int(text)


def _printable(value: object) -> str:
    """Text output keeps one record on one line: control characters are shown escaped."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def register(sub: Any) -> None:
    p = sub.add_parser("gate", help="evaluate the promotion gate for a model version")
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    add_format(p, "text")
    add_config(p)
    p.set_defaults(handler=_gate)

    for name, helptext, comment_help in (
        ("approve", "approve (promote) a candidate version", "free text, up to 5000 characters"),
        ("reject", "reject a candidate version (comment required)", "free text, up to 5000 characters"),
        ("rollback", "restore the previous champion (comment required)", "why (required, up to 5000 characters)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--model", required=True)
        if name != "rollback":
            p.add_argument("--version", required=True)
        p.add_argument(
            "--user",
            help="who decides (default: $DRIFTGATE_USER); recorded as self-asserted "
            "unless the tracking server authenticates, which then decides who you are",
        )
        p.add_argument("--comment", help=comment_help)
        add_format(p, "text")
        add_config(p)
        p.set_defaults(handler=_decision(name))

    p = sub.add_parser("versions", help="list a registered model's versions and their states")
    p.add_argument("--model", required=True)
    add_format(p, "text")
    add_config(p)
    p.set_defaults(handler=_versions)

    p = sub.add_parser("audit", help="the audit log (oldest first)")
    p.add_argument("--model")
    p.add_argument("--limit", type=_limit, default=None, help="only the newest N records (1..1000000)")
    add_format(p, "text")
    add_config(p)
    p.set_defaults(handler=_audit)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m services.cli gate|approve|reject|rollback|versions|audit")
