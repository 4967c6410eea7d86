"""Light and dark theme (Streamlit follows the browser's colour scheme): the charts follow it,
and the reference / threshold lines and their labels we draw stay readable (contrast >= 3:1
against the plot background) in both. Read from the live Plotly elements in chromium."""

from __future__ import annotations

import pytest

from services.demo import seed as demo
from tests.support.browser import assert_page_ok, charts

pytestmark = pytest.mark.e2e

# Per chart: the drawn background and every shape line / annotation text colour (full layout:
# the colours after Plotly applied Streamlit's template).
_COLOURS_JS = r"""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
  const L = el._fullLayout || {};
  const app = getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor;
  const opaque = c => c && !/rgba\([^)]*,\s*0\)$/.test(c) && c !== 'transparent';
  return {
    app: app,
    title: String((L.title && L.title.text) || '').replace(/<[^>]+>/g, ''),
    background: opaque(L.plot_bgcolor) ? L.plot_bgcolor : (opaque(L.paper_bgcolor) ? L.paper_bgcolor : app),
    paper: L.paper_bgcolor,
    lines: (L.shapes || []).map(s => s.line && s.line.color).filter(Boolean),
    labels: (L.annotations || []).map(a => a.font && a.font.color).filter(Boolean),
  };
})"""


def _rgb(colour: str) -> tuple[float, float, float]:
    c = colour.strip()
    if c.startswith("#"):
        c = c[1:]
        if len(c) == 3:
            c = "".join(ch * 2 for ch in c)
        return tuple(int(c[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    parts = c[c.index("(") + 1 : c.index(")")].split(",")
    return tuple(float(p) / 255 for p in parts[:3])  # type: ignore[return-value]


def _luminance(colour: str) -> float:
    lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in _rgb(colour)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_helper():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("rgb(14, 17, 23)", "#0e1117") == pytest.approx(1.0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_lines_and_labels_readable_in_both_themes(scheme, demo_server, _browser):
    url = demo_server
    context = _browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)  # as browser_page: Playwright's 30 s is short on a loaded CI machine
        checked = 0
        for path in (f"/drift?model={demo.MODEL_NAME}&days=7", f"/leaderboard?model={demo.MODEL_NAME}"):
            page.goto(url + path)
            assert_page_ok(page, 300_000)
            charts(page, at_least=1, timeout_ms=300_000)
            for chart in page.evaluate(_COLOURS_JS):
                background = chart["background"]
                dark_background = _luminance(background) < 0.2
                assert dark_background == (scheme == "dark"), (path, chart["title"], background)
                for colour in chart["lines"] + chart["labels"]:
                    checked += 1
                    assert contrast(colour, background) >= 3.0, (path, chart["title"], colour, background)
        assert checked >= 3  # threshold lines, the champion line and their labels were all looked at
    finally:
        context.close()
