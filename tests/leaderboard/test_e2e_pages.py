"""Browser end-to-end tests of the Retraining runs and Leaderboard pages (Debian chromium)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import assert_page_ok, charts
from tests.support.runs import big_board

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo_base(demo_settings, demo_server):
    # The shared demo server (the pages only read the demo). A CI run once found no winner metric
    # here, and another no run on the runs page with a server of its own: both within
    # Playwright's 5 s default of expect(...), which tests/conftest.py now sets to 90 s.
    return demo_server


def test_leaderboard_shared_link_winner_baseline_and_shap(demo_base, browser_page):
    page = browser_page
    page.goto(f"{demo_base}/leaderboard?model=churn_classifier&experiment=churn_classifier&metric=roc_auc")
    assert_page_ok(page)
    labels = page.locator('[data-testid="stMetricLabel"]')
    expect(labels.filter(has_text="Winner: gbm_recent")).to_have_count(1)
    expect(labels.filter(has_text="Champion baseline (v1): champion-v1-reeval")).to_have_count(1)
    assert "vs champion [" in page.locator('[data-testid="stMetricDelta"]').first.inner_text()
    # The ranked bars chart is drawn (plotly) and the selection is in the URL.
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg')
    if shots := __import__("os").environ.get("DG_SCREENSHOTS"):
        page.screenshot(path=f"{shots}/leaderboard.png", full_page=True)
    assert "run=" in page.url and "version=2" in page.url
    page.get_by_role("tab", name="SHAP importance").click()
    page.get_by_role("button", name="Compute SHAP comparison").click()
    page.wait_for_selector("text=Features whose importance moved most", timeout=120_000)
    assert_page_ok(page)
    moved = page.locator('[data-testid="stMarkdownContainer"]', has_text="moved most").first.inner_text()
    assert "support_calls" in moved


def test_runs_page_selection_round_trips_through_the_url(demo_base, browser_page):
    page = browser_page
    page.goto(f"{demo_base}/runs?model=churn_classifier&experiment=churn_classifier")
    assert_page_ok(page)
    values = page.locator('[data-testid="stMetricValue"]')
    expect(values.filter(has_text="gbm_recent")).to_have_count(1)
    expect(values.filter(has_text="champion-v1-reeval")).to_have_count(1)
    page.wait_for_function("() => window.location.search.includes('run=')")
    shared = page.url
    # A shared link opens the same view in a fresh tab.
    other = page.context.new_page()
    other.goto(shared)
    assert_page_ok(other)
    expect(other.locator('[data-testid="stMetricValue"]').filter(has_text="gbm_recent")).to_have_count(1)
    other.get_by_role("tab", name="Lineage").click()
    assert other.get_by_text("driftgate.training_window").first.is_visible()


# The ranking chart's bars as drawn: the y labels and x values of the live plot's first trace.
_RANKING_JS = """() => {
  const el = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(e => (e.data || []).some(t => t.type === 'bar' && t.orientation === 'h'));
  if (!el) return null;
  const t = el.data.find(t => t.type === 'bar' && t.orientation === 'h');
  return {y: Array.from(t.y), x: Array.from(t.x), drawn: el.querySelectorAll('.bars .point').length};
}"""


def test_large_board_draws_the_top_30_and_the_baseline(streamlit_server, browser_page, empty_mlflow_store, tmp_path):
    """45 candidates and the champion baseline on a store of the user's: the browser draws the 30
    best (in rank order) and the baseline as bars, and the caption says 15 more are in the table."""
    from components.leaderboard_charts import TOP_BARS

    uri = empty_mlflow_store(tmp_path / "mlflow.db")
    values = big_board(uri, tmp_path / "artifacts")
    base = streamlit_server(env={"MLFLOW_TRACKING_URI": uri, "DRIFTGATE_HOME": str(tmp_path / "home")})
    page = browser_page
    page.goto(f"{base}/leaderboard?experiment=big-board&metric=roc_auc")
    assert len(charts(page, at_least=1)) >= 1
    page.wait_for_function(f"() => ({_RANKING_JS})() && ({_RANKING_JS})().drawn >= {TOP_BARS + 1}")
    ranking = page.evaluate(_RANKING_JS)
    best = sorted((n for n in values if n != "champion-reeval"), key=lambda n: -values[n])
    assert ranking["y"] == [*(f"#{i} {n}" for i, n in enumerate(best[:TOP_BARS], 1)), "champion-reeval (champion)"]
    assert ranking["x"] == [values[n] for n in (*best[:TOP_BARS], "champion-reeval")]
    assert ranking["drawn"] == TOP_BARS + 1  # one drawn bar per value, none for the 15 left out
    caption = f"The chart shows the top {TOP_BARS} runs and the champion baseline; 15 more are in the table below."
    expect(page.get_by_text(caption)).to_have_count(1)


def test_overview_link_opens_the_retraining_run_without_a_warning(demo_base, browser_page):
    """Clicked in the browser, the Overview's "Open in Retraining runs" lands on the run by the
    experiment's name (it once carried the id: "experiment '1' not found")."""
    page = browser_page
    page.goto(f"{demo_base}/?model=churn_classifier")
    assert_page_ok(page)
    page.get_by_role("link", name="Open in Retraining runs").click()
    page.wait_for_url("**/runs?*")
    assert_page_ok(page)
    assert "experiment=churn_classifier" in page.url and "run=" in page.url
    expect(page.locator('[data-testid="stMetricValue"]').filter(has_text="gbm_recent")).to_have_count(1)
    alerts = page.locator('[data-testid="stMainBlockContainer"] [data-testid="stAlert"]').all_inner_texts()
    assert not [a for a in alerts if "not found" in a], alerts
