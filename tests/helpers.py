"""Helpers shared by the test layers (AppTest and browser)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from streamlit.testing.v1 import AppTest

from services.promotion.approvals import REGISTRY_WRITES

ROOT = Path(__file__).resolve().parent.parent
PAGE_PATHS = {
    "app.py": "/",
    "pages/drift.py": "/drift",
    "pages/runs.py": "/runs",
    "pages/leaderboard.py": "/leaderboard",
    "pages/promotions.py": "/promotions",
}
PAGE_TITLES = {
    "app.py": "Overview",
    "pages/drift.py": "Drift",
    "pages/runs.py": "Retraining runs",
    "pages/leaderboard.py": "Leaderboard",
    "pages/promotions.py": "Promotions",
}


def app_test(page: str = "app.py", query_params: dict | None = None, timeout: float = 90) -> AppTest:
    """An AppTest of ``page`` entered through app.py (the shell's st.page_link needs that entry).

    Call ``.run()`` on the result. Set DRIFTGATE_HOME (monkeypatch.setenv) before running.
    """
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in (query_params or {}).items():
        at.query_params[key] = value
    if page != "app.py":
        at.switch_page(page)
    return at


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60, proc=None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s ({last})")


def wait_script_done(page, timeout_ms: int = 90_000) -> None:
    """Wait until the Streamlit script run finished and the page title is rendered."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout_ms, state="attached"
    )
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_ms)
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms, state="attached"
    )


def assert_page_ok(page, timeout_ms: int = 90_000) -> None:
    """The script ran to the end with no exception element and no traceback text."""
    wait_script_done(page, timeout_ms)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()[:2000]
    body = page.locator("body").inner_text()
    assert "Traceback (most recent call last)" not in body, body[:2000]


class RegistryWriteHook:
    """A real MlflowClient whose registry writes (``REGISTRY_WRITES``) are counted, 1-based, and
    call ``before_write(n, name)`` first; subclasses make write ``n`` fail, crash or hang there."""

    def __init__(self, client):
        self._client, self.writes = client, 0

    def before_write(self, n: int, name: str) -> None:
        """Called before registry write number ``n``; the base class lets every write through."""

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in REGISTRY_WRITES:
            return attr

        def write(*args, **kwargs):
            self.writes += 1
            self.before_write(self.writes, name)
            return attr(*args, **kwargs)

        return write
