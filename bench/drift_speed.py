"""Drift engine speed: 1,000,000 rows x 20 features per side (Parquet), same run, same machine.

Measured, each in its own subprocess (time + max RSS via os.wait4):
  * duckdb     - DriftGate's pushdown engine, reference and current from Parquet
  * profile    - the same with a stored reference profile (only the current window is scanned)
  * memory     - DriftGate's exact in-memory engine
  * plain_scan - one plain DuckDB scan of the same columns (min/max/avg per column, both files)
  * plain_qh   - a plain DuckDB "quantile + histogram" script (deciles, then bin/category counts)
  * duckdb_warm, plain_scan_warm - duckdb and plain_scan timed after their imports (the app's case)
  * evidently  - Evidently 0.7.23 DataDriftPreset (its own venv: bench/.venv-evidently, pandas<3)

Usage: python bench/drift_speed.py [--shape base|varied|both] [--rows N] [--repeat K] [--quick]
       [--skip-evidently] [--scale 1000000,10000000,50000000]
Prints seconds (the median of K interleaved runs for the fast engines), max RSS and the ratios the
issue asks for. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Generated data is cached outside the repository (never committed): $DRIFTGATE_BENCH_DATA, else
# $XDG_CACHE_HOME/driftgate-bench (default ~/.cache/driftgate-bench).
DATA = Path(
    os.environ.get("DRIFTGATE_BENCH_DATA")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "driftgate-bench"
)
EVIDENTLY_VENV = ROOT / "bench" / ".venv-evidently"
EVIDENTLY_PY = EVIDENTLY_VENV / "bin" / "python"
EVIDENTLY_PINS = ("evidently==0.7.23", "pandas<3")
N_NUM, N_CAT = 15, 5
ROW_GROUP = 131_072
# Dataset shapes (both 15 numeric + 5 categorical columns per side, fixed seeds):
#  * "base":   float64 N(0, 1 + 0.1 i), 3-level string categoricals, no missing value, pyarrow's
#              default row groups (the shape the engine was first tuned on);
#  * "varied": float64 normals with varied means and spreads, 2 % missing (null) in two of them;
#              string categoricals with 4, 6, 8, 10 and 12 levels, 1 % missing in one; Snappy,
#              131,072-row row groups (issue 17's held-out shape).
SHAPES = ("base", "varied")
LEVELS = (4, 6, 8, 10, 12)


def setup_evidently() -> bool:
    """Create the Evidently peer venv (bench/.venv-evidently, git-ignored) when it is missing."""
    if EVIDENTLY_PY.exists():
        return True
    print(f"creating {EVIDENTLY_VENV.relative_to(ROOT)} ({', '.join(EVIDENTLY_PINS)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(EVIDENTLY_PY), "-m", "pip", "install", "-q", *EVIDENTLY_PINS, "pyarrow"], check=True)
    return EVIDENTLY_PY.exists()


def data_paths(rows: int, shape: str = "base") -> tuple[Path, Path]:
    tag = "" if shape == "base" else f"{shape}_"
    return DATA / f"ref_{tag}{rows}.parquet", DATA / f"cur_{tag}{rows}.parquet"


def make_data(rows: int, shape: str = "base") -> tuple[Path, Path]:
    """Written by a child process, so this (parent) process stays small."""
    paths = data_paths(rows, shape)
    if not all(p.exists() for p in paths):
        subprocess.run([sys.executable, __file__, "--make-data", str(rows), "--shape", shape], check=True)
    return paths


def _make_data(rows: int, shape: str = "base") -> tuple[Path, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    paths = data_paths(rows, shape)
    if all(p.exists() for p in paths):
        return paths
    for k, path in enumerate(paths):
        tmp = path.with_suffix(".tmp")
        (_write_varied if shape == "varied" else _write_base)(tmp, rows, k)
        tmp.replace(path)
    return paths


def _write_base(path: Path, rows: int, k: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(100 + k)
    cols = {}
    for i in range(N_NUM):
        shift = 0.3 if (k == 1 and i < 3) else 0.0
        cols[f"num_{i}"] = rng.normal(shift, 1.0 + 0.1 * i, rows)
    for j in range(N_CAT):
        p = [0.5, 0.3, 0.2] if not (k == 1 and j == 0) else [0.3, 0.4, 0.3]
        cols[f"cat_{j}"] = rng.choice(np.array(["a", "b", "c"]), rows, p=p)
    pq.write_table(pa.table(cols), path)


def _write_varied(path: Path, rows: int, k: int) -> None:
    """Written one 131,072-row group at a time (memory stays flat at 10M/50M rows), a seed per
    side and row group."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    means = [(-1) ** i * (i * 7.5) for i in range(N_NUM)]  # 0, -7.5, 15, ... -105
    stds = [0.05 * (3 ** (i % 5)) * (1 + i // 5) for i in range(N_NUM)]  # 0.05 ... 24.3
    missing_num = {3: 0.02, 11: 0.02}
    names = [f"c{j}_{n}lv" for j, n in enumerate(LEVELS)]
    levels = [np.array([f"{name[:2]}_level_{v:02d}" for v in range(n)]) for name, n in zip(names, LEVELS)]
    writer = None
    try:
        for g, start in enumerate(range(0, rows, ROW_GROUP)):
            n = min(ROW_GROUP, rows - start)
            rng = np.random.default_rng([2026_17, k, g])
            cols = {}
            for i in range(N_NUM):
                mu = means[i] + (0.25 * stds[i] if (k == 1 and i in (0, 5, 10)) else 0.0)
                x = rng.normal(mu, stds[i], n)
                mask = rng.random(n) < missing_num[i] if i in missing_num else None
                cols[f"x{i:02d}"] = pa.array(x, mask=mask)
            for j, lv in enumerate(levels):
                w = np.arange(1, len(lv) + 1, dtype=float)[::-1]
                if k == 1 and j == 2:  # the current side shifts one categorical
                    w = w[::-1]
                idx = rng.choice(len(lv), n, p=w / w.sum())
                mask = rng.random(n) < 0.01 if j == 1 else None
                cols[names[j]] = pa.array(lv[idx], mask=mask)
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()


SNIPPETS = {
    "build_profile": """
import duckdb
from services.drift import build_reference_profile
from services.warehouse.sources import Source
rel = duckdb.read_parquet(REF)
cols = [(c, "numeric" if str(typ) == "DOUBLE" else "categorical") for c, typ in zip(rel.columns, rel.types)]
build_reference_profile(Source("parquet", REF), cols).save(PROFILE)
OUT = {}
""",
    "duckdb": """
from services.drift import drift_report
from services.warehouse.sources import Source
r = drift_report(Source("parquet", REF), Source("parquet", CUR), engine="duckdb")
OUT = {"drifted": [f["feature"] for f in r["features"] if f["drifted"]]}
""",
    "profile": """
from services.drift import drift_report
from services.drift.profile import Profile
from services.warehouse.sources import Source
r = drift_report(Profile.load(PROFILE), Source("parquet", CUR), engine="duckdb")
OUT = {"drifted": [f["feature"] for f in r["features"] if f["drifted"]]}
""",
    "memory": """
from services.drift import drift_report
from services.warehouse.sources import Source
r = drift_report(Source("parquet", REF), Source("parquet", CUR), engine="memory")
OUT = {"drifted": [f["feature"] for f in r["features"] if f["drifted"]]}
""",
    "plain_scan": """
import duckdb
con = duckdb.connect()
for path in (REF, CUR):
    rel = con.read_parquet(path)
    aggs = []
    for c, typ in zip(rel.columns, rel.types):
        if str(typ) == "DOUBLE":
            aggs += [f'min("{c}")', f'max("{c}")', f'avg("{c}")']
        else:
            aggs += [f'count(DISTINCT "{c}")']
    con.execute(f"SELECT count(*), {', '.join(aggs)} FROM read_parquet('{path}')").fetchall()
OUT = {}
""",
    "plain_qh": """
import duckdb
con = duckdb.connect()
rel = con.read_parquet(REF)
nums = [f'"{c}"' for c, typ in zip(rel.columns, rel.types) if str(typ) == "DOUBLE"]
cats = [f'"{c}"' for c, typ in zip(rel.columns, rel.types) if str(typ) != "DOUBLE"]
q = ", ".join(f"quantile_cont({c}, [0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9])" for c in nums)
edges = con.execute(f"SELECT {q} FROM read_parquet('{REF}')").fetchone()
for path in (REF, CUR):
    parts = []
    for c, e in zip(nums, edges):
        parts += [f"count_if({c} <= {x})" for x in e]
    con.execute(f"SELECT {', '.join(parts)} FROM read_parquet('{path}')").fetchall()
    for c in cats:
        con.execute(f"SELECT {c}, count(*) FROM read_parquet('{path}') GROUP BY 1").fetchall()
OUT = {}
""",
    "evidently": """
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref = pd.read_parquet(REF)
cur = pd.read_parquet(CUR)
snap = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
d = snap.dict()
OUT = {"metrics": len(d.get("metrics", []))}
""",
}


# "Warm" variants: the same work in a process whose imports are already loaded (the app's case: the
# Streamlit server imports DuckDB, sqlglot and scipy once), so only the work itself is timed.
WARM = {
    "duckdb_warm": ("duckdb", "import duckdb\nfrom services.drift import drift_report, stats\nstats.warm_up()\n"),
    "plain_scan_warm": ("plain_scan", "import duckdb\n"),
}


MEM_CAP_GIB = {"evidently": 8.0}  # address-space cap of a peer on a shared machine: fails with MemoryError


def _child(name: str, argv: list[str]) -> dict:
    """Runs ``argv`` in a child process; wall time and the child's own max RSS (os.wait4)."""
    out_path, err_path = DATA / f".{name}.out", DATA / f".{name}.err"
    cap = MEM_CAP_GIB.get(name)

    def limit() -> None:
        if cap:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (int(cap * 2**30), int(cap * 2**30)))

    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT, preexec_fn=limit if cap else None)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = err_path.read_text().strip().splitlines()
        return {"name": name, "error": tail[-1] if tail else f"status {status}"}
    return {"name": name, "wall": wall, "max_rss_mib": usage.ru_maxrss / 1024, "stdout": out_path}


def run_with_rss(name, python, ref, cur, profile=None) -> dict:
    """Runs a snippet in a child process, timed inside it (after its ``WARM`` set-up, if any);
    waits with os.wait4 for the child's own max RSS."""
    snippet, setup = (SNIPPETS[WARM[name][0]], WARM[name][1]) if name in WARM else (SNIPPETS[name], "")
    code = (
        f"import json, time, sys\nsys.path.insert(0, {str(ROOT)!r})\nREF={str(ref)!r}\nCUR={str(cur)!r}\n"
        f"PROFILE={str(profile)!r}\n{setup}t=time.perf_counter()\n{snippet}\n"
        "OUT['seconds']=time.perf_counter()-t\nprint(json.dumps(OUT))\n"
    )
    doc = _child(name, [python, "-c", code])
    if "error" in doc:
        return doc
    doc.update(json.loads(doc.pop("stdout").read_text().strip().splitlines()[-1]))
    return doc


def run_cli(name, ref, cur) -> dict:
    """The way users and jobs call it: a whole ``python -m services.cli drift`` process."""
    doc = _child(
        name,
        [
            sys.executable,
            "-m",
            "services.cli",
            "drift",
            "--reference",
            str(ref),
            "--current",
            str(cur),
            "--engine",
            "duckdb",
            "--format",
            "json",
        ],
    )
    if "error" in doc:
        return doc
    report = json.loads(doc.pop("stdout").read_text())
    doc.update(seconds=doc["wall"], drifted=[f["feature"] for f in report["features"] if f["drifted"]])
    return doc


def _median(runs: list[dict], key: str = "seconds") -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    mid = sorted(ok, key=lambda r: r[key])[len(ok) // 2]
    return {
        **mid,
        "max_rss_mib": max(r["max_rss_mib"] for r in ok),
        "spread": (min(r[key] for r in ok), max(r[key] for r in ok)),
        "runs": len(ok),
    }


def _ratio(a: dict, b: dict, key: str = "seconds") -> float:
    return a[key] / b[key] if "error" not in a and "error" not in b else float("nan")


def _print_table(results: dict[str, dict]) -> None:
    print(f"\n{'run':<16} {'seconds':>9} {'wall s':>8} {'max RSS MiB':>12}  drifted")
    for r in results.values():
        if "error" in r:
            print(f"{r['name']:<16} error: {r['error']}")
            continue
        spread = f"  (runs {r['spread'][0]:.2f}-{r['spread'][1]:.2f} s)" if "spread" in r else ""
        print(
            f"{r['name']:<16} {r['seconds']:>9.2f} {r['wall']:>8.2f} {r['max_rss_mib']:>12.0f}  {r.get('drifted', '')}"
            f"{spread}"
        )


def bench_shape(rows: int, shape: str, repeat: int, evidently: bool, full: bool) -> dict[str, dict]:
    """One shape at one size. Interleaved runs of the CLI and the plain scan, each a whole cold
    process (wall time), medians compared; with ``full`` also the in-process variants."""
    ref, cur = make_data(rows, shape)
    print(
        f"\n== shape {shape!r}: {rows:,} rows x {N_NUM + N_CAT} features per side "
        f"({N_NUM} numeric, {N_CAT} categorical)  [{ref.parent}]"
    )
    profile = DATA / f"profile_{shape}_{rows}.json"
    if full:
        built = run_with_rss("build_profile", sys.executable, ref, cur, profile)
        print(
            f"reference profile built once in {built.get('seconds', float('nan')):.2f} s "
            f"(max RSS {built.get('max_rss_mib', float('nan')):.0f} MiB)"
        )
    fast = ["cli", "plain_scan"] + (["plain_qh", "duckdb", "profile", "plain_scan_warm", "duckdb_warm"] if full else [])
    runs: dict[str, list[dict]] = {name: [] for name in fast}
    # Interleaved: on a small shared machine one run can be 20 % off either way.
    for _ in range(max(1, repeat)):
        for name in fast:
            r = run_cli("cli", ref, cur) if name == "cli" else run_with_rss(name, sys.executable, ref, cur, profile)
            if name == "plain_scan" and "error" not in r:
                r["seconds"] = r["wall"]  # cold process vs cold process
            runs[name].append(r)
    results = {name: _median(rs) for name, rs in runs.items()}
    if full:
        results["memory"] = run_with_rss("memory", sys.executable, ref, cur, profile)
    if evidently:
        if setup_evidently():
            r = run_with_rss("evidently", str(EVIDENTLY_PY), ref, cur)
            if "error" not in r:
                r["seconds"] = r["wall"]
            results["evidently"] = r
        else:
            results["evidently"] = {"name": "evidently", "error": "bench/.venv-evidently could not be created"}
    _print_table(results)
    c, p = results["cli"], results["plain_scan"]
    lines = [f"CLI (whole process) / plain scan (whole process) = {_ratio(c, p):.2f}x (target <= 2.5x)"]
    if "evidently" in results:
        lines.append(
            f"Evidently 0.7.23 (whole process) / CLI        = {_ratio(results['evidently'], c):.1f}x (target >= 40x)"
        )
    if "error" not in c:
        lines.append(f"CLI max RSS                                    = {c['max_rss_mib']:.0f} MiB (target <= 1024)")
    if full and "error" not in results["duckdb"]:
        d = results["duckdb"]
        lines.append(f"engine in-process / plain quantile+histogram   = {_ratio(d, results['plain_qh']):.2f}x")
        lines.append(
            f"  the same with imports loaded / plain (warm)  = "
            f"{_ratio(results['duckdb_warm'], results['plain_scan_warm']):.2f}x"
        )
        lines.append(f"memory engine / duckdb engine (in-process)     = {_ratio(results['memory'], d):.2f}x")
    print("\n" + "\n".join(lines))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shape", choices=SHAPES + ("both",), default="both")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved runs of each fast engine (median reported)")
    ap.add_argument("--quick", action="store_true", help="only the CLI, the plain scan and Evidently")
    ap.add_argument(
        "--scale",
        default=None,
        metavar="N,N,...",
        help="scale series of the 'varied' shape, e.g. 1000000,10000000,50000000 (rows per side): "
        "CLI and plain scan per size, Evidently up to 10M rows",
    )
    ap.add_argument(
        "--evidently-mem-gib",
        type=float,
        default=MEM_CAP_GIB["evidently"],
        help="address-space cap for the Evidently peer (0: none)",
    )
    ap.add_argument("--make-data", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    MEM_CAP_GIB["evidently"] = args.evidently_mem_gib
    if args.make_data:
        _make_data(args.make_data, args.shape)
        return
    if args.scale:
        sizes = [int(x) for x in args.scale.split(",") if x.strip()]
        series = []
        for n in sizes:
            res = bench_shape(
                n,
                "varied",
                args.repeat if n <= 1_000_000 else 1,
                evidently=not args.skip_evidently and n <= 10_000_000,
                full=False,
            )
            series.append((n, res))
        print(
            f"\nscale series ('varied' shape; whole processes)\n{'rows/side':>12} {'CLI s':>8} {'plain s':>8} "
            f"{'ratio':>6} {'CLI RSS MiB':>12} {'Evidently s':>12} {'Ev. RSS MiB':>12}"
        )
        for n, res in series:
            c, p, e = res["cli"], res["plain_scan"], res.get("evidently", {"error": "not run"})
            ev = (
                f"{e['seconds']:>12.1f} {e['max_rss_mib']:>12.0f}"
                if "error" not in e
                else f"{'-':>12} {e['error'][:40]:>12}"
            )
            print(
                f"{n:>12,} {c.get('seconds', float('nan')):>8.2f} {p.get('seconds', float('nan')):>8.2f} "
                f"{_ratio(c, p):>6.2f} {c.get('max_rss_mib', float('nan')):>12.0f} {ev}"
            )
        return
    for shape in SHAPES if args.shape == "both" else (args.shape,):
        bench_shape(args.rows, shape, args.repeat, evidently=not args.skip_evidently, full=not args.quick)


if __name__ == "__main__":
    main()
