"""Browser test: /drift on the demo shows the injected drifted features as drifted."""

from __future__ import annotations

import pytest

from services.demo import seed as demo
from tests.support.browser import assert_page_ok, charts

pytestmark = pytest.mark.e2e


def test_drift_page_in_the_browser(demo_settings, demo_server, browser_page):
    base = demo_server
    browser_page.goto(f"{base}/drift?model={demo.MODEL_NAME}&feature=contract")
    assert_page_ok(browser_page)
    main = browser_page.locator('[data-testid="stMainBlockContainer"]')
    assert "3 of 6 features drifted" in main.locator('[data-testid="stAlert"]').first.inner_text()
    assert browser_page.locator('[data-testid="stDataFrame"]').count() >= 2  # features, targets
    assert len(charts(browser_page, at_least=6)) >= 6  # drawn after the script run: wait for them
    assert "feature=contract" in browser_page.url and "days=7" in browser_page.url
    assert "→ drifted" in main.inner_text()
    for name, verdict in (("payment_method", "drifted"), ("monthly_charges", "drifted"), ("region", "stable")):
        browser_page.goto(f"{base}/drift?model={demo.MODEL_NAME}&feature={name}")
        assert_page_ok(browser_page)
        assert f"→ {verdict}" in browser_page.locator('[data-testid="stMainBlockContainer"]').inner_text(), name
    import os

    if os.environ.get("DRIFTGATE_SCREENSHOT"):
        browser_page.set_viewport_size({"width": 1400, "height": 3000})
        browser_page.goto(f"{base}/drift?model={demo.MODEL_NAME}&feature=monthly_charges")
        assert_page_ok(browser_page)
        browser_page.screenshot(path=os.environ["DRIFTGATE_SCREENSHOT"], full_page=True)


def test_sensitivity_note_and_estimated_performance_in_the_browser(demo_settings, demo_server, browser_page):
    from datetime import date, timedelta

    base = demo_server
    day = (date.fromisoformat(demo.ground_truth(demo_settings.home)["start_date"]) + timedelta(days=40)).isoformat()
    browser_page.goto(f"{base}/drift?model={demo.MODEL_NAME}&start={day}&end={day}")
    assert_page_ok(browser_page)
    main = browser_page.locator('[data-testid="stMainBlockContainer"]')
    main.get_by_text("estimates unreliable: concept drift on the labelled windows").first.wait_for(timeout=90_000)
    text = main.inner_text()
    assert "Sensitivity — tenure_months: window too small to detect a 0.1-std shift: 1,000 rows; need ≈ " in text
    assert f"{demo.LABEL_DELAY_DAYS} window(s) without labels: estimated ROC AUC " in text
    # The chart draws after the text (Plotly renders in the browser, later under load): wait for
    # its legend entry (SVG text) rather than reading the legends once.
    legend = browser_page.locator(".js-plotly-plot .legendtext").filter(has_text="estimated roc_auc (no labels yet)")
    legend.first.wait_for(timeout=90_000)
