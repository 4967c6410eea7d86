"""Browser end-to-end (Debian chromium): alice approves v2 through the confirm dialog and the
Overview then shows v2 as champion; carol (viewer) sees Approve disabled with the reason."""

from __future__ import annotations

import pytest

from services.promotion import audit
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.browser import assert_page_ok

pytestmark = pytest.mark.e2e
MODEL = "churn_classifier"


def _approve_button(page):
    return page.locator('[data-testid="stMainBlockContainer"] button', has_text="Approve").first


def test_alice_approves_and_overview_shows_new_champion(demo_copy, streamlit_server, browser_page):
    base = streamlit_server(env={"DRIFTGATE_HOME": str(demo_copy.home), "DRIFTGATE_USER": "alice"})
    page = browser_page
    page.goto(f"{base}/promotions?model={MODEL}&version=2")
    assert_page_ok(page)
    button = _approve_button(page)
    assert button.is_enabled()
    button.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_text("champion: v1 → v2").wait_for()  # the preview renders after the dialog opens
    dialog.locator("textarea").fill("<img src=x onerror=alert(1)> better on recent data")
    dialog.get_by_role("button", name="Confirm approval").click()
    page.get_by_text("version 2 promoted to champion").wait_for()
    assert_page_ok(page)
    assert make_lifecycle(demo_copy, make_client(demo_copy), MODEL).state().champion == "2"
    assert page.locator("img[src=x]").count() == 0  # the comment is text, never HTML

    page.goto(f"{base}/?model={MODEL}")
    assert_page_ok(page)
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text().strip() == "v2"
    rec = audit.query(demo_copy, model=MODEL)[-1]
    assert (rec["user"], rec["action"], rec["outcome"], rec["version"]) == ("alice", "approve", "done", "2")


def test_viewer_sees_approve_disabled(demo_copy, streamlit_server, browser_page):
    base = streamlit_server(env={"DRIFTGATE_HOME": str(demo_copy.home), "DRIFTGATE_USER": "carol"})
    page = browser_page
    page.goto(f"{base}/promotions?model={MODEL}&version=2")
    assert_page_ok(page)
    assert _approve_button(page).is_disabled()
    assert "carol does not hold the approver role" in page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert audit.query(demo_copy) == []  # looking is not a decision
