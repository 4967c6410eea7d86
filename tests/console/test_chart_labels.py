"""Chart labels are readable: in the Retraining runs strip and the Leaderboard's Pareto scatter no
point label, tick label, title or annotation leaves the chart, and no two point labels or
annotations overlap. Read from the drawn SVG in chromium (bounding boxes of the text)."""

from __future__ import annotations

import pytest

from services.demo import seed as demo
from tests.support.browser import assert_page_ok, charts

pytestmark = pytest.mark.e2e

_BOXES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
  const title = String((el._fullLayout && el._fullLayout.title && el._fullLayout.title.text) || '');
  const frame = el.querySelector('svg.main-svg').getBoundingClientRect();
  const box = (n, kind) => { const r = n.getBoundingClientRect();
    return {kind, text: n.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom, w: r.width}; };
  const pick = (sel, kind) => Array.from(el.querySelectorAll(sel)).map(n => box(n, kind)).filter(b => b.w > 0);
  return {title, frame: {l: frame.left, r: frame.right, t: frame.top, b: frame.bottom},
          labels: [...pick('.textpoint text', 'point'), ...pick('.annotation-text', 'annotation')],
          others: [...pick('.xtick text', 'tick'), ...pick('.ytick text', 'tick'), ...pick('.gtitle', 'title'),
                   ...pick('.g-xtitle text', 'axis title'), ...pick('.g-ytitle text', 'axis title')]};
})"""


def _problems(chart: dict) -> list[str]:
    f, out = chart["frame"], []
    for b in chart["labels"] + chart["others"]:
        if b["l"] < f["l"] - 1 or b["r"] > f["r"] + 1 or b["t"] < f["t"] - 1 or b["b"] > f["b"] + 1:
            out.append(f"{b['kind']} {b['text']!r} leaves the chart")
    labels = chart["labels"]
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            if min(a["r"], b["r"]) - max(a["l"], b["l"]) > 1 and min(a["b"], b["b"]) - max(a["t"], b["t"]) > 1:
                out.append(f"{a['text']!r} overlaps {b['text']!r}")
    return out


def test_runs_strip_and_pareto_labels_fit(demo_server, browser_page):
    url = demo_server
    page = browser_page
    seen = {}
    for path, wanted in (
        (f"/runs?model={demo.MODEL_NAME}", "candidates by"),
        (f"/leaderboard?model={demo.MODEL_NAME}", " vs "),
    ):
        page.goto(url + path)
        assert_page_ok(page, 300_000)
        charts(page, at_least=1, timeout_ms=300_000)
        found = [c for c in page.evaluate(_BOXES_JS) if wanted in c["title"]]
        assert found, f"no chart titled '{wanted}' on {path}"
        for chart in found:
            assert [b for b in chart["labels"] if b["kind"] == "point"], chart["title"]  # labels were drawn
            seen[chart["title"]] = _problems(chart)
    assert all(not p for p in seen.values()), seen
