"""Browser helpers (Playwright + Debian chromium): the chromium to launch, waiting for a
Streamlit script run, and what each Plotly chart on the page actually holds."""

from __future__ import annotations

import contextlib
import os

CHROMIUM = os.environ.get("DRIFTGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


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
    assert exceptions.count() == 0, exceptions.first.inner_text(timeout=timeout_ms)[:2000]
    # The same allowance as the script run: on a loaded machine the renderer can still be busy
    # drawing the charts when the run ends (a CI run once spent > 30 s here, Playwright's default).
    body = page.locator("body").inner_text(timeout=timeout_ms)
    assert "Traceback (most recent call last)" not in body, body[:2000]


# Per chart: its title and, per trace, the number of plotted values (non-null y, z cells or
# dimension values); read from the live plot element's ``.data`` (what Plotly drew).
_CHARTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
  title: String((el.layout && el.layout.title && (el.layout.title.text || el.layout.title)) || '').replace(/<[^>]+>/g, ''),
  traces: (el.data || []).map(t => {
    const vals = v => Array.isArray(v) ? v.flat(2).filter(x => x !== null && x !== undefined && !Number.isNaN(x)).length : 0;
    if (t.type === 'parcoords') return (t.dimensions || []).reduce((n, d) => n + vals(d.values), 0);
    if (t.type === 'heatmap') return vals(t.z);
    return Math.max(vals(t.y), t.type === 'bar' && t.orientation === 'h' ? vals(t.x) : 0);
  }),
}))"""


def charts(page, at_least: int = 0, timeout_ms: int = 90_000) -> list[dict]:
    """Every rendered Plotly chart of the page: waits for ``at_least`` drawn charts (Streamlit
    loads its Plotly bundle lazily, after the script run ended) and until every chart element has
    drawn, then one more animation frame."""
    assert_page_ok(page, timeout_ms)
    with contextlib.suppress(Exception):  # drawn or not, the caller asserts on what is there
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot').length >= n && "
            "document.querySelectorAll('[data-testid=\"stPlotlyChart\"]').length <= "
            "document.querySelectorAll('.js-plotly-plot').length",
            arg=at_least,
            timeout=timeout_ms,
        )
    page.wait_for_timeout(300)
    return page.evaluate(_CHARTS_JS)


def assert_charts_have_points(page, where: str, at_least: int = 1) -> list[dict]:
    found = charts(page, at_least)
    assert len(found) >= at_least, f"{where}: {len(found)} charts, expected >= {at_least}"
    empty = [c for c in found if not c["traces"] or not any(c["traces"])]
    assert not empty, f"{where}: charts with no points: {[c['title'] for c in empty]}"
    return found
