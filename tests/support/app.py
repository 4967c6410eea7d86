"""The AppTest layer: the app's pages and an AppTest entered through app.py."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
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
