"""Browser tests of what the console shows (Debian chromium): every chart has points, the demo
persona stays across pages, and the stale-state race ends with the dialog closed and the new
champion shown."""

from __future__ import annotations

import pytest

from services.demo import seed as demo
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.app import PAGE_PATHS, PAGE_TITLES
from tests.support.browser import assert_charts_have_points, assert_page_ok

pytestmark = pytest.mark.e2e
MODEL = demo.MODEL_NAME
NUMERIC = ("tenure_months", "monthly_charges", "support_calls")


# (path, minimum number of charts on it)
PAGES = [("/", 1), ("/drift", 8), ("/runs", 1), ("/leaderboard", 2), ("/promotions", 1)]


@pytest.mark.parametrize("path,at_least", PAGES)
def test_every_chart_of_every_page_has_points(demo_server, browser_page, path, at_least):
    browser_page.goto(f"{demo_server}{path}?model={MODEL}")
    assert_charts_have_points(browser_page, path, at_least)


@pytest.mark.parametrize("query", [f"feature={f}" for f in NUMERIC] + ["days=1", "days=3"])
def test_drift_charts_have_points(demo_server, browser_page, query):
    browser_page.goto(f"{demo_server}/drift?model={MODEL}&{query}")
    found = assert_charts_have_points(browser_page, f"/drift?{query}", 8)
    if query.startswith("feature="):
        feature = query.split("=", 1)[1]
        ecdf = [c for c in found if c["title"] == f"{feature}: cumulative distribution"]
        assert len(ecdf) == 1 and len(ecdf[0]["traces"]) == 2 and min(ecdf[0]["traces"]) >= 2, ecdf


def _acting_user(page) -> str:
    return page.get_by_role("combobox", name="Demo persona").input_value().split("—")[0].strip()


_CUT_LINKS_JS = """() => [...document.querySelectorAll('[data-testid="stMainBlockContainer"] a')]
  .filter(a => [a, ...a.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1 && e.innerText.trim()))
  .map(a => a.innerText.trim())"""


def _cut_links(page) -> list[str]:
    """The in-page links whose label the layout cuts off (QA saw "Run in Retrain" on Promotions)."""
    return list(page.evaluate(_CUT_LINKS_JS))


def test_bob_stays_bob_through_every_page(demo_server, browser_page):
    page = browser_page
    page.goto(f"{demo_server}/?model={MODEL}")
    assert_page_ok(page)
    assert _acting_user(page) == "alice"
    page.get_by_role("combobox", name="Demo persona").click()
    page.get_by_role("option", name="bob").first.click()
    page.wait_for_url("**persona=bob**")
    assert_page_ok(page)
    assert _acting_user(page) == "bob"
    for file, title in list(PAGE_TITLES.items())[1:] + [("app.py", "Overview"), ("pages/promotions.py", "Promotions")]:
        page.locator('[data-testid="stSidebar"] a', has_text=title).first.click()
        page.wait_for_url(f"**{PAGE_PATHS[file]}?**")
        page.wait_for_function(
            "t => document.querySelector('[data-testid=\"stMainBlockContainer\"] h1')?.innerText.trim() === t",
            arg=title,
        )
        assert_page_ok(page)
        assert _acting_user(page) == "bob", title
        assert "persona=bob" in page.url and f"model={MODEL}" in page.url
        if title == "Promotions":
            main = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
            assert "as bob" in main and "as alice" not in main
            assert page.locator('[data-testid="stMainBlockContainer"] button', has_text="Approve").first.is_disabled()
            assert "four-eyes" in main
    # ...and through the links inside the pages (Overview -> Runs -> Leaderboard -> Promotions -> Runs)
    page.locator('[data-testid="stSidebar"] a', has_text="Overview").first.click()
    page.wait_for_url("**/?**")
    for link, title in [
        ("Open in Retraining runs", "Retraining runs"),
        ("Open this run's leaderboard", "Leaderboard"),
        ("in Promotions", "Promotions"),
        ("Run in Retraining runs", "Retraining runs"),
    ]:
        assert_page_ok(page)
        page.locator('[data-testid="stMainBlockContainer"] a', has_text=link).first.click()
        page.wait_for_function(
            "t => document.querySelector('[data-testid=\"stMainBlockContainer\"] h1')?.innerText.trim() === t",
            arg=title,
        )
        assert_page_ok(page)
        assert _acting_user(page) == "bob", link
        assert "persona=bob" in page.url, (link, page.url)
        assert _cut_links(page) == [], title


def test_stale_state_race_closes_the_dialog_and_shows_the_new_champion(demo_copy, streamlit_server, browser_page):
    from services.promotion.approvals import approve
    from tests.support.demo import settings_with

    base = streamlit_server(env={"DRIFTGATE_HOME": str(demo_copy.home), "DRIFTGATE_USER": "alice"})
    page = browser_page
    page.goto(f"{base}/promotions?model={MODEL}&version=2")
    assert_page_ok(page)
    page.locator('[data-testid="stMainBlockContainer"] button', has_text="Approve").first.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_text("champion: v1 → v2").wait_for()  # the preview renders after the dialog opens
    # meanwhile someone else approves the same candidate from the CLI / another replica
    approve(settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n'), MODEL, "2", "dave")
    assert make_lifecycle(demo_copy, make_client(demo_copy), MODEL).state().champion == "2"
    dialog.get_by_role("button", name="Confirm approval").click()
    page.get_by_role("dialog").wait_for(state="detached")
    assert_page_ok(page)
    main = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert "stale state" in main
    assert "champion: v2" in main and "champion: v1 ·" not in main
    assert page.get_by_role("dialog").count() == 0
