"""Page speed in a real browser, as ratios against a bare Streamlit page measured in the same run.

    python bench/page_speed.py [--home DIR] [--repeat 5] [--pages /,/drift,...] [--skip-restart] [--restart-repeat 2] [--skip-widgets]

The bare page (title + one Plotly chart + one table + one selectbox) and the DriftGate app run as
``streamlit run`` servers on 127.0.0.1 (free ports), both driven by Debian chromium through
Playwright (``DRIFTGATE_CHROMIUM``, default /usr/bin/chromium). A page counts as shown when the
script run has ended, its title is drawn and every Plotly chart element has drawn its plot.

1. **warm visit**: after one warm-up visit of each page, each page in a fresh browser session
   (new context: a new Streamlit session), ``--repeat`` times; median and ratio to the bare page.
   Target: within 3x.
2. **first deep link after a restart**: per page, a freshly started server's very first request
   (a shared link after a redeploy), against the bare page's first request after its restart.
   Target: within 10x.
3. **widget change**: the Drift page's Feature selectbox (an ``st.fragment``: the distribution
   charts rerun, nothing expensive), against the bare page's selectbox changing its chart.
   Target: within 2x.
4. **every widget**: each widget of each page (``WIDGETS``) changed back and forth, time from the
   change to the settled rerender (the script run finished and every chart drawn), against the
   bare page's selectbox in the same run (``--skip-widgets`` to leave it out).

The demo workspace is seeded into ``--home`` (default: a temporary folder) unless already there.
Servers are stopped by PID at the end. Prints one line per measurement and the medians.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - after the sys.path line above

PAGES = ["/", "/drift", "/runs", "/leaderboard", "/promotions"]
MODEL = "churn_classifier"

BARE = """
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="bare", layout="wide")
st.title("Bare page")
kind = st.selectbox("Series", ["sin", "cos"])
x = np.linspace(0, 10, 200)
fig = go.Figure(go.Scatter(x=x, y=np.sin(x) if kind == "sin" else np.cos(x), name=kind))
fig.update_layout(title=f"series {kind}")
st.plotly_chart(fig, key="chart")
st.dataframe(pd.DataFrame({"x": x[:20], "y": np.sin(x[:20])}), hide_index=True)
"""

SHOWN_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (!document.querySelector('[data-testid="stMainBlockContainer"] h1')) return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
  return document.querySelectorAll('.js-plotly-plot').length >= charts;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


class Server:
    """``streamlit run <script>`` on 127.0.0.1; stopped by PID."""

    def __init__(self, script: Path, cwd: Path, env: dict[str, str], log: Path):
        self.script, self.cwd, self.env, self.log_path = script, cwd, env, log
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> Server:
        port = free_port()
        with open(self.log_path, "ab") as log:  # the server writes to its own copy of the descriptor
            self.proc = subprocess.Popen(
                [
                    _bin("streamlit"),
                    "run",
                    str(self.script),
                    "--server.port",
                    str(port),
                    "--server.address",
                    "127.0.0.1",
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                    "--server.fileWatcherType",
                    "none",
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.script.name} exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=3) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"{self.script.name} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def restart(self) -> Server:
        self.stop()
        return self.start()


def visit(browser, url: str, timeout_ms: int = 300_000) -> float:
    """Seconds from navigation to the page shown, in a fresh browser session."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_ms)
        page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_ms)
        page.wait_for_function(SHOWN_JS, timeout=timeout_ms, polling=50)
        return time.perf_counter() - t0
    finally:
        context.close()


def widget_change(browser, url: str, label: str, options: list[str], chart_title: str, rounds: int) -> list[float]:
    """Seconds from picking another option of the ``label`` selectbox to the chart titled
    ``chart_title.format(option)`` drawn, ``rounds`` times (alternating options)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(300_000)
    out = []
    try:
        page.goto(url)
        page.wait_for_function(SHOWN_JS, polling=100)
        for i in range(rounds + 1):
            option = options[(i + 1) % len(options)]
            _open_list(page, label, option)
            page.wait_for_timeout(300)  # the list settles
            t0 = time.perf_counter()
            _option(page, option).click()
            title = chart_title.format(option)
            page.wait_for_function(
                "t => Array.from(document.querySelectorAll('.js-plotly-plot')).some(el => "
                "String((el.layout && el.layout.title && (el.layout.title.text || el.layout.title)) || '')"
                ".replace(/<[^>]+>/g, '') === t)",
                arg=title,
                polling=20,
            )
            page.wait_for_function(SHOWN_JS, polling=20)
            if i:  # the first change loads the option list's code: a warm-up
                out.append(time.perf_counter() - t0)
    finally:
        context.close()
    return out


# Every widget of every page, changed back and forth: (page, kind, label, the two values). The
# demo has one model, so the sidebar's Model box has nothing to change to; the persona box does.
WIDGETS: list[tuple[str, str, str, tuple[str, str]]] = [
    ("/", "selectbox", "Demo persona", ("bob", "alice")),
    ("/drift", "radio", "Date range", ("Date range", "Last N days")),
    ("/drift", "slider", "days", ("left", "right")),
    ("/drift", "selectbox", "Windows", ("week", "day")),
    ("/drift", "selectbox", "Feature", ("support_calls", "tenure_months")),
    ("/runs", "selectbox", "Run details", ("gbm_recent", "rf_recent")),
    ("/runs", "tab", "Metric history", ("Metric history", "Metrics")),
    ("/leaderboard", "selectbox", "Metric", ("log_loss", "roc_auc")),
    ("/leaderboard", "toggle", "Lower is better", ("on", "off")),
    ("/leaderboard", "selectbox", "y", ("brier", "f1")),
    ("/promotions", "selectbox", "Version", ("v1", "v2")),
    ("/promotions", "multiselect", "Action", ("approve", "approve")),
]
BARE_WIDGETS = [("/", "selectbox", "Series", ("cos", "sin"))]

# Counts finished script runs (the app's script state leaving "running") and when the last one
# finished, in the page's own clock: a rerun is settled when it finished and its charts are drawn.
RUNS_JS = """
window.__runs = 0; window.__ranAt = 0;
new MutationObserver(records => {
  // Per record, not the attribute's current value: a fast run flips running -> notRunning within
  // one batch of records, and reading the current value alone missed it.
  for (const r of records) {
    if (r.oldValue === 'running' && r.target.getAttribute('data-test-script-state') !== 'running') {
      window.__runs += 1; window.__ranAt = performance.now();
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state']});
// A fragment's rerun can finish before the state ever shows "running" (nothing to count): then
// the last change of the page's content tells when it was drawn.
window.__mutAt = 0;
new MutationObserver(() => { window.__mutAt = performance.now(); })
  .observe(document, {subtree: true, childList: true, characterData: true});
"""


def _option(page, value: str):
    """The list option whose label is ``value`` or starts with it and a separator ("bob — reviewer",
    "v2 · by …"): exact on the value, whatever the label adds."""
    return page.get_by_role("option", name=re.compile(rf"^{re.escape(value)}(\s|$)")).first


def _open_list(page, label: str, option: str, tries: int = 4) -> None:
    """Open the ``label`` box's list of every option (a typed filter left stale lists behind) until
    ``option`` shows: a click while the page is still settling can leave the list closed."""
    for attempt in range(tries):
        page.get_by_role("combobox", name=label, exact=True).first.click()
        try:
            _option(page, option).wait_for(timeout=5_000)
            return
        except Exception:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


def _now(page) -> float:
    return float(page.evaluate("performance.now()"))


def _act(page, kind: str, label: str, value: str) -> float:
    """Change one widget to ``value`` (a click, a key or a pick from its list); returns the page's
    clock just before the change is committed (an option list is opened before that). A
    multiselect adds ``value``, or removes it (the last chosen, by Backspace) when it is chosen
    already."""
    if kind == "selectbox":
        _open_list(page, label, value)
        t0 = _now(page)
        _option(page, value).click()
    elif kind == "multiselect":
        page.get_by_role("combobox", name=label, exact=True).first.click()
        try:
            _option(page, value).wait_for(timeout=2_000)
            t0 = _now(page)
            _option(page, value).click()
        except Exception:
            t0 = _now(page)
            page.keyboard.press("Backspace")
        page.keyboard.press("Escape")
    elif kind == "radio":
        target = page.get_by_text(value, exact=True).first
        t0 = _now(page)
        target.click()
    elif kind == "toggle":
        target = page.get_by_text(label, exact=True).first
        t0 = _now(page)
        target.click()
    elif kind == "tab":
        target = page.get_by_role("tab", name=value).first
        t0 = _now(page)
        target.click()
    elif kind == "slider":
        page.get_by_role("slider", name=label).first.focus()
        t0 = _now(page)
        page.keyboard.press("ArrowLeft" if value == "left" else "ArrowRight")
    else:
        raise ValueError(kind)
    return t0


def widget_series(browser, base: str, widgets, rounds: int, query: str = "") -> dict[str, list[float]]:
    """Seconds from each widget change to its settled rerender (the run finished, every chart
    drawn); per widget, ``rounds`` changes after one warm-up change. A tab switch reruns nothing:
    its time is to the tab's content shown."""
    out: dict[str, list[float]] = {}
    for path, kind, label, values in widgets:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(RUNS_JS)
        page = context.new_page()
        page.set_default_timeout(60_000)
        name = f"{path} {kind} '{label}'"
        try:
            page.goto(f"{base}{path}{query}")
            page.wait_for_function(SHOWN_JS, polling=100)
            if kind in ("selectbox", "multiselect"):
                try:
                    page.get_by_role("combobox", name=label, exact=True).first.wait_for(timeout=10_000)
                except Exception:  # e.g. the audit filters of a workspace without decisions yet
                    print(f"  {name}: not on the page in this workspace", flush=True)
                    continue
            for i in range(rounds + 1):
                page.wait_for_timeout(300)  # the page settles (widgets take input again)
                runs = page.evaluate("window.__runs")
                t0 = _act(page, kind, label, values[i % 2])
                if kind == "tab":
                    page.wait_for_function(SHOWN_JS, polling=20)
                    secs = (_now(page) - t0) / 1000
                else:
                    page.wait_for_function(
                        "([n, t0]) => window.__runs > n || window.__mutAt > t0", arg=[runs, t0], polling=20
                    )
                    page.wait_for_function(SHOWN_JS, polling=20)
                    page.wait_for_function("() => performance.now() - window.__mutAt > 500", polling=50)
                    counted = page.evaluate("window.__runs") > runs
                    done = page.evaluate("window.__ranAt") if counted else page.evaluate("window.__mutAt")
                    secs = (max(done, t0) - t0) / 1000
                if i:  # the first change loads the widget's code: a warm-up
                    out.setdefault(name, []).append(secs)
        except Exception as exc:
            print(f"  {name}: not measured ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})", flush=True)
        finally:
            context.close()
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", help="demo workspace (seeded when missing); default: a temporary folder")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--skip-restart", action="store_true", help="skip the first-request-after-restart series")
    ap.add_argument("--restart-repeat", type=int, default=2, help="rounds of the after-restart series")
    ap.add_argument("--skip-widgets", action="store_true", help="skip the every-widget series")
    args = ap.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]

    from playwright.sync_api import sync_playwright

    from services.config import load_settings
    from services.demo import seed as demo

    tmp = Path(tempfile.mkdtemp(prefix="driftgate-page-speed-"))
    home = Path(args.home) if args.home else tmp / "home"
    settings = load_settings(env={"DRIFTGATE_HOME": str(home)})
    if not demo.is_seeded(home):
        t0 = time.perf_counter()
        demo.ensure_demo(settings)
        print(f"seeded the demo workspace in {time.perf_counter() - t0:.1f} s", flush=True)
    (tmp / "bare.py").write_text(BARE)
    base_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "DRIFTGATE_CONFIG")
    }
    app = Server(ROOT / "app.py", ROOT, {**base_env, "DRIFTGATE_HOME": str(home)}, tmp / "app.log")
    bare = Server(tmp / "bare.py", tmp, base_env, tmp / "bare.log")
    q = f"?model={MODEL}"
    results: dict[str, list[float]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            # 2. first deep link after a restart (first: nothing is warm yet)
            rounds = 0 if args.skip_restart else args.restart_repeat
            for path in [p for _ in range(rounds) for p in pages]:  # bare and app side by side
                bare.restart()
                results.setdefault("restart bare", []).append(visit(browser, bare.url))
                app.restart()
                secs = visit(browser, f"{app.url}{path}{q}")
                results.setdefault(f"restart {path}", []).append(secs)
                print(
                    f"first request after restart  {path:<13} {secs:7.2f} s   bare "
                    f"{results['restart bare'][-1]:5.2f} s",
                    flush=True,
                )
            if bare.proc is None:
                bare.start()
            if app.proc is None:
                app.start()
            # 1. warm visits in fresh sessions
            visit(browser, bare.url)
            for path in pages:
                visit(browser, f"{app.url}{path}{q}")  # the warm-up visit
            for _ in range(args.repeat):
                results.setdefault("warm bare", []).append(visit(browser, bare.url))
                for path in pages:
                    results.setdefault(f"warm {path}", []).append(visit(browser, f"{app.url}{path}{q}"))
            report(results, pages, args.skip_restart)
            # 3. a widget change that alters nothing expensive
            try:
                results["widget bare"] = widget_change(
                    browser, bare.url, "Series", ["sin", "cos"], "series {}", args.repeat
                )
                results["widget /drift"] = widget_change(
                    browser,
                    f"{app.url}/drift{q}",
                    "Feature",
                    ["tenure_months", "support_calls"],
                    "{}: distribution",
                    args.repeat,
                )
            except Exception as exc:
                print(f"widget change not measured: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            # 4. every widget of every page
            if not args.skip_widgets:
                series_bare = widget_series(browser, bare.url, BARE_WIDGETS, args.repeat)
                series_app = widget_series(browser, app.url, WIDGETS, args.repeat, q)
            browser.close()
    finally:
        app.stop()
        bare.stop()

    if "widget /drift" in results:
        wb, wd = median(results["widget bare"]), median(results["widget /drift"])
        print(f"  widget change   bare          {wb:6.2f}")
        print(f"  widget change   /drift        {wd:6.2f}   {wd / wb:5.1f}x   (target <= 2x; Feature selectbox)")
    if not args.skip_widgets and series_bare:
        wb = median(next(iter(series_bare.values())))
        print(f"\nevery widget, change to settled rerender (median s, ratio to the bare selectbox {wb:.2f} s)")
        for name, xs in series_app.items():
            print(f"  {name:<45} {median(xs):6.2f}   {median(xs) / wb:5.1f}x")
    return 0


def report(results: dict[str, list[float]], pages: list[str], skip_restart: bool) -> None:
    print("\nmedians (seconds) and ratio to the bare page measured in this run", flush=True)
    warm_bare = median(results["warm bare"])
    print(f"  warm visit      bare          {warm_bare:6.2f}")
    for path in pages:
        m = median(results[f"warm {path}"])
        print(f"  warm visit      {path:<13} {m:6.2f}   {m / warm_bare:5.1f}x   (target <= 3x)")
    if not skip_restart:
        rb = median(results["restart bare"])
        print(f"  after restart   bare          {rb:6.2f}")
        for path in pages:
            m = median(results[f"restart {path}"])
            print(f"  after restart   {path:<13} {m:6.2f}   {m / rb:5.1f}x   (target <= 10x)")


if __name__ == "__main__":
    sys.exit(main())
