"""Browser smoke test of every page in Debian chromium: each one as the very first request a
fresh server gets (a shared deep link), then the shell's navigation between them."""

from __future__ import annotations

import pytest

from tests.support.app import PAGE_PATHS, PAGE_TITLES
from tests.support.browser import assert_page_ok

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("page", list(PAGE_PATHS))
def test_deep_link_is_the_first_request(page, demo_settings, streamlit_server, browser_page):
    base = streamlit_server(env={"DRIFTGATE_HOME": str(demo_settings.home)})
    browser_page.goto(f"{base}{PAGE_PATHS[page]}?model=churn_classifier")
    assert_page_ok(browser_page)
    assert browser_page.locator("h1").first.inner_text().strip() == PAGE_TITLES[page]
    assert PAGE_TITLES[page] in browser_page.title()


def test_navigation_links_reach_every_page(demo_server, browser_page):
    base = demo_server  # the navigation needs no fresh server (the deep links above do)
    browser_page.goto(base)
    assert_page_ok(browser_page)
    assert "v1" in browser_page.locator('[data-testid="stMetricValue"]').first.inner_text()
    for page, title in PAGE_TITLES.items():
        browser_page.locator('[data-testid="stSidebar"] a', has_text=title).first.click()
        browser_page.wait_for_url(f"**{PAGE_PATHS[page]}**")
        browser_page.wait_for_function(
            "t => document.querySelector('[data-testid=\"stMainBlockContainer\"] h1')?.innerText.trim() === t",
            arg=title,
        )
        assert_page_ok(browser_page)
        assert "model=churn_classifier" in browser_page.url
