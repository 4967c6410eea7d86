"""First start on a fresh DRIFTGATE_HOME: the browser shows the demo's seeding progress from the
first text it draws (the loading step before the heavy imports, then each seeding step), never a
blank page until the seeded Overview; then the Overview has its charts."""

from __future__ import annotations

import pytest

from components.first_start import STATUS_LABEL
from tests.support.browser import assert_charts_have_points, assert_page_ok

pytestmark = pytest.mark.e2e

# Every distinct text of the main block, in the order the browser drew it.
_RECORD = """
window.__seen = [];
new MutationObserver(() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const text = main ? main.innerText.trim() : '';
  if (text && window.__seen[window.__seen.length - 1] !== text) window.__seen.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_fresh_home_shows_seeding_progress_first(tmp_path, streamlit_server, browser_page):
    url = streamlit_server(env={"DRIFTGATE_HOME": str(tmp_path / "fresh-home")})
    page = browser_page
    page.add_init_script(_RECORD)
    page.goto(url + "/", wait_until="domcontentloaded")
    assert_page_ok(page, timeout_ms=600_000)  # seeding takes tens of seconds, more when loaded
    seen: list[str] = page.evaluate("window.__seen")
    assert seen, "the page drew no text"
    assert STATUS_LABEL in seen[0] and "Overview" not in seen[0], seen[0][:500]
    # Before anything heavy was imported: the loading step; then each seeding step while it ran,
    # then the seeded Overview.
    loading = [i for i, text in enumerate(seen) if "Loading the libraries" in text]
    steps = [i for i, text in enumerate(seen) if "Training the champion" in text]
    assert loading and steps and loading[0] < steps[0]
    overview = [i for i, text in enumerate(seen) if "Demo workspace ready" in text and "Champion" in text]
    assert steps and overview and steps[0] < overview[0]
    assert_charts_have_points(page, "/ after the first start")
