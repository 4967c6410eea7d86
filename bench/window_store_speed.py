"""Stored per-window profiles at scale: a scoring log of N days x R rows (Parquet, a file per day).

    python bench/window_store_speed.py [--days 90] [--rows-per-day 20000] [--skip-full] [--page]
    nice python bench/window_store_speed.py --rows-per-day 1000000 --generate-only   # 90M rows, once

The default size (90 x 20,000) is a quick run; ``--rows-per-day 1000000`` is the issue's 90-day x
1,000,000-row log (90M rows, ~14 GiB of Parquet: 15 float64 + 5 string columns, Snappy,
131,072-row row groups), generated once from a fixed seed and cached.

Measured, each a whole process (wall time + max RSS), in this order:
  * plain_scan_log   - one plain DuckDB scan of the whole log (min/max/avg per numeric column,
                       distinct count per categorical, min/max of the timestamp)
  * reference        - the model's reference profile (30 days of the log), computed and stored once
                       (shared with every drift report; a prerequisite of the backfill)
  * backfill         - ``python -m services.cli profile --model m --backfill`` (the reference read,
                       every closed day profiled and stored, the days' drift results stored)
  * nothing_new      - ``profile --model m`` again (the watermark query only)
  * new_day          - one more day's file appears, ``profile --model m`` (that day only)
  * plain_scan_day   - a plain scan of that day's file alone
  * over_time_stored - ``drift_over_time`` (the Drift page's heatmap data) from the stored days,
                       in a process with its imports loaded (as the page's server)
  * over_time_full   - the same with the store off (the engine's grouped pass over the whole log;
                       ``--skip-full`` leaves it out: at 90M rows it takes many minutes)
  * page             - (``--page``) the Drift page's drift-over-time section (its heatmap and
                       drift-share charts, from stored profiles) as a Streamlit page in Chromium,
                       against bench/page_speed.py's bare page: a fresh server's first visit, then
                       warm visits (medians of 3)
Every figure is printed with the load average (``os.getloadavg``) at its end: helpers share cores.
Data and the workspace are cached outside the repository (``${XDG_CACHE_HOME:-~/.cache}/driftgate-bench``).
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(
    os.environ.get("DRIFTGATE_BENCH_DATA")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "driftgate-bench"
)
START = date(2026, 1, 1)
N_NUM, LEVELS = 15, (4, 6, 8, 10, 12)


def write_day(folder: Path, day: int, rows: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = START + timedelta(days=day)
    path = folder / f"part-{d:%Y%m%d}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng([2026_17, 90, day])
    base = np.datetime64(d.isoformat(), "s")
    cols = {"event_time": pa.array(base + rng.integers(0, 86_400, rows).astype("timedelta64[s]"))}
    for i in range(N_NUM):
        shift = 0.5 if (day >= 60 and i < 3) else 0.0
        cols[f"x{i:02d}"] = rng.normal(i * 2.0 + shift, 1.0 + 0.2 * i, rows)
    for j, n in enumerate(LEVELS):
        w = np.arange(1, n + 1, dtype=float)[::-1] if not (day >= 75 and j == 0) else np.ones(n)
        cols[f"c{j}"] = pa.array(np.array([f"v{k:02d}" for k in range(n)])[rng.choice(n, rows, p=w / w.sum())])
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.table(cols), tmp, compression="snappy", row_group_size=131_072)
    tmp.replace(path)
    return path


def child(name: str, argv: list[str], env: dict[str, str]) -> dict:
    out, err = DATA / f".ws-{name}.out", DATA / f".ws-{name}.err"
    with open(out, "w") as o, open(err, "w") as e:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=o, stderr=e, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    doc = {"name": name, "wall": wall, "max_rss_mib": usage.ru_maxrss / 1024, "load": os.getloadavg()[0]}
    if os.waitstatus_to_exitcode(status) != 0:
        doc["error"] = (err.read_text().strip().splitlines() or [f"status {status}"])[-1]
    else:
        doc["stdout"] = out.read_text()
    return doc


PLAIN = """
import duckdb, sys
con = duckdb.connect()
rel = con.read_parquet(sys.argv[1])
aggs = ["min(event_time)", "max(event_time)"]
for c, typ in zip(rel.columns, rel.types):
    if str(typ) == "DOUBLE":
        aggs += [f'min("{c}")', f'max("{c}")', f'avg("{c}")']
    elif c != "event_time":
        aggs += [f'count(DISTINCT "{c}")']
con.execute(f"SELECT count(*), {', '.join(aggs)} FROM read_parquet('{sys.argv[1]}')").fetchall()
"""

REFERENCE = """
import sys
sys.path.insert(0, sys.argv[1])
from services.config import load_settings
from services.drift.model import _select, model_data, reference_profile
settings = load_settings()
data = model_data(settings, "m")
reference_profile(settings, "m", features=_select(data, None, False), data=data)
"""

OVER_TIME = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from services.config import load_settings
from services.drift import drift_over_time, stats
stats.warm_up()
settings = load_settings()
drift_over_time(settings, "m", unit="day", use_store=sys.argv[2] == "1")  # warm-up (imports, caches)
t = time.perf_counter()
doc = drift_over_time(settings, "m", unit="day", use_store=sys.argv[2] == "1")
print(json.dumps({"seconds": time.perf_counter() - t, "windows": len(doc["windows"]), "store": doc.get("store")}))
"""


SECTION = """
import streamlit as st
from components import drift_data as data
from components.drift_charts import drift_share_figure, heatmap_figure
from services.config import load_settings

st.set_page_config(page_title="drift over time", layout="wide")
st.title("Drift over time")
settings = load_settings()
over = data.over_time(data.workspace_key(settings), "m", None, "day", False, None, settings)
st.plotly_chart(heatmap_figure(over, "Feature drift per window (x threshold)"), key="heatmap")
st.plotly_chart(drift_share_figure(over, 0.5), key="share")
"""


def page_figures(env: dict[str, str], work: Path) -> dict[str, float]:
    """The drift-over-time section against the bare page, each a Streamlit server in Chromium."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    import page_speed as P
    from playwright.sync_api import sync_playwright

    (work / "section.py").write_text(SECTION)
    (work / "bare.py").write_text(P.BARE)
    env = {**env, "PYTHONPATH": str(ROOT)}
    out: dict[str, float] = {}
    servers = {n: P.Server(work / f"{n}.py", ROOT, env, work / f"{n}.log") for n in ("bare", "section")}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=P.CHROMIUM, args=P.CHROMIUM_ARGS)
            for name, server in servers.items():
                server.start()
                out[f"{name}_first"] = P.visit(browser, server.url)
                out[f"{name}_warm"] = P.median([P.visit(browser, server.url) for _ in range(3)])
                out[f"{name}_load"] = os.getloadavg()[0]
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
    return out


def generate(args: argparse.Namespace, log: Path) -> None:
    t = time.perf_counter()
    for day in range(args.days):
        write_day(log, day, args.rows_per_day)
    extra = log / f"part-{START + timedelta(days=args.days):%Y%m%d}.parquet"
    if extra.exists():
        extra.unlink()  # the "new day" of the previous run
    print(
        f"log: {args.days} days x {args.rows_per_day:,} rows ({args.days * args.rows_per_day:,} rows, "
        f"{sum(p.stat().st_size for p in log.glob('*.parquet')) / 2**20:.0f} MiB) ready in {time.perf_counter() - t:.0f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--rows-per-day", type=int, default=20_000)
    ap.add_argument("--generate-only", action="store_true", help="write the cached log and stop")
    ap.add_argument("--skip-full", action="store_true", help="leave out drift over time with the store off")
    ap.add_argument("--page", action="store_true", help="also the drift-over-time section in Chromium")
    args = ap.parse_args()
    work = DATA / f"windowlog_{args.days}x{args.rows_per_day}"
    log = work / "log"
    log.mkdir(parents=True, exist_ok=True)
    generate(args, log)
    if args.generate_only:
        return
    extra = log / f"part-{START + timedelta(days=args.days):%Y%m%d}.parquet"
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    cfg = work / "driftgate.toml"
    ref_end = START + timedelta(days=29)
    cfg.write_text(
        '[sources.log]\ntype = "parquet"\npath = "log"\n[models.m]\nsource = "log"\n'
        'timestamp = "event_time"\n'
        f"numerical = {json.dumps([f'x{i:02d}' for i in range(N_NUM)])}\n"
        f"categorical = {json.dumps([f'c{j}' for j in range(len(LEVELS))])}\n"
        f'reference_window = {{start = "{START}", end = "{ref_end}"}}\n'
    )
    env = {**os.environ, "DRIFTGATE_HOME": str(home), "DRIFTGATE_CONFIG": str(cfg)}
    py = sys.executable
    cli = [py, "-m", "services.cli", "profile", "--model", "m", "--format", "json"]
    res = [
        child("plain_scan_log", [py, "-c", PLAIN, str(log / "*.parquet")], env),
        child("reference", [py, "-c", REFERENCE, str(ROOT)], env),
        child("backfill", cli + ["--backfill"], env),
        child("nothing_new", cli, env),
    ]
    write_day(log, args.days, args.rows_per_day)
    res += [child("new_day", cli, env), child("plain_scan_day", [py, "-c", PLAIN, str(extra)], env)]
    for name, flag in (("over_time_stored", "1"), ("over_time_full", "0"))[: 1 if args.skip_full else 2]:
        r = child(name, [py, "-c", OVER_TIME, str(ROOT), flag], env)
        if "error" not in r:
            r["seconds"] = json.loads(r["stdout"].strip().splitlines()[-1])["seconds"]
        res.append(r)
    print(f"\n{'step':<18} {'wall s':>8} {'in-process s':>13} {'max RSS MiB':>12} {'load':>5}  detail")
    by = {}
    for r in res:
        by[r["name"]] = r
        if "error" in r:
            print(f"{r['name']:<18} error: {r['error']}")
            continue
        detail = ""
        if r["name"] in ("backfill", "nothing_new", "new_day"):
            d = json.loads(r["stdout"])
            detail = f"profiled {len(d['profiled'])} day(s), reused {d['reused']}, late {len(d['late'])}"
        sec = f"{r['seconds']:>13.2f}" if "seconds" in r else f"{'':>13}"
        print(f"{r['name']:<18} {r['wall']:>8.2f} {sec} {r['max_rss_mib']:>12.0f} {r['load']:>5.1f}  {detail}")

    def ratio(a, b, key="wall"):
        ok = a in by and b in by and "error" not in by[a] and "error" not in by[b]
        return by[a][key] / by[b][key] if ok else float("nan")

    print(f"\nfirst backfill / plain scan of the log      = {ratio('backfill', 'plain_scan_log'):.2f}x (target <= 2x)")
    both = (by["backfill"]["wall"] + by["reference"]["wall"]) / by["plain_scan_log"]["wall"]
    print(f"reference + backfill / plain scan of the log = {both:.2f}x")
    print(f"new day / plain scan of that day (processes) = {ratio('new_day', 'plain_scan_day'):.2f}x (target <= 2x)")
    print(
        f"drift over time, full re-scan / stored days  = "
        f"{ratio('over_time_full', 'over_time_stored', 'seconds'):.1f}x (in-process, imports loaded)"
    )

    if args.page:
        pg = page_figures(env, work)
        print(
            f"drift-over-time section, fresh server's first visit = {pg['section_first']:.2f} s vs bare "
            f"{pg['bare_first']:.2f} s = {pg['section_first'] / pg['bare_first']:.2f}x (load {pg['section_load']:.1f})"
        )
        print(
            f"drift-over-time section, warm visit (median of 3)  = {pg['section_warm']:.2f} s vs bare "
            f"{pg['bare_warm']:.2f} s = {pg['section_warm'] / pg['bare_warm']:.2f}x (target <= 2x)"
        )


if __name__ == "__main__":
    main()
