"""Trustworthy alarms at any window size: false alarms on no-drift draws and detection of shifts of
known size, for asymmetric windows (a big reference, small to big current windows), DriftGate's
default rule on both engines next to the old rule (switch on the reference's size) and Evidently
0.7.23's DataDriftPreset defaults, on the same draws.

Features (9, varied shapes): normal, lognormal, counts (Poisson 2.5), uniform with 10 % missing,
bimodal, exponential; categoricals with 2, 4 and 8 levels.
References: 30,000 and 300,000 rows (one draw each); current windows: 100, 300, 1,000, 10,000,
100,000 rows, each a fresh draw.
  no drift: current from the reference's distribution -> per-feature and dataset false alarms;
  shifts:   in one draw either every numeric feature moves (mean + k·std for k in 0.1, 0.25, 0.5,
            1; or a scale change ×1.25 / ×1.5 around the median) or every categorical one (mix
            towards another distribution, Jensen–Shannon distance 0.05, 0.1, 0.2, 0.3); the other
            kind stays unchanged -> per-feature detection among the shifted features.
Evidently runs in its own venv (bench/.venv-evidently, pandas<3, created like bench/drift_speed.py
does) on parquet copies of the same draws, for the 30,000-row reference and currents up to 10,000
rows with fewer repetitions (its report costs ~1 s each).

Targets: per-feature false alarms <= 5 % and dataset <= 1 % at every current size >= 100, both
reference sizes, both engines; detection >= 95 % for a 0.5-std mean shift, ×1.5 scale and JS >= 0.2
at >= 300 rows.

Usage: python bench/alarms.py [--reps 12] [--shift-reps 4] [--evidently-reps 4] [--skip-evidently] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT / "bench" / "data" / "alarms"
EVIDENTLY_PY = ROOT / "bench" / ".venv-evidently" / "bin" / "python"

REFERENCES = (30_000, 300_000)
CURRENTS = (100, 300, 1_000, 10_000, 100_000)
NUMERIC = ("normal", "lognormal", "counts", "uniform_missing", "bimodal", "exponential")
CATEGORICAL = ("cat2", "cat4", "cat8")
FEATURES = NUMERIC + CATEGORICAL
LEVELS = {"cat2": [0.7, 0.3], "cat4": [0.4, 0.3, 0.2, 0.1], "cat8": [0.3, 0.2, 0.15, 0.1, 0.1, 0.07, 0.05, 0.03]}
SHIFTS = [
    ("mean", 0.1),
    ("mean", 0.25),
    ("mean", 0.5),
    ("mean", 1.0),
    ("scale", 1.25),
    ("scale", 1.5),
    ("mix", 0.05),
    ("mix", 0.1),
    ("mix", 0.2),
    ("mix", 0.3),
]
EVIDENTLY_SHIFTS = [("mean", 0.25), ("mean", 0.5), ("scale", 1.5), ("mix", 0.1), ("mix", 0.2)]


def _js(p, q) -> float:
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p, q, base=2))


def mixed(levels: list[float], target: float) -> np.ndarray:
    """A category distribution at Jensen–Shannon distance ``target`` from ``levels`` (mixing
    towards the reversed order, bisection on the mixing weight)."""
    p = np.asarray(levels, dtype=float)
    q = p[::-1].copy() if len(p) > 2 else np.array([p[1], p[0]])
    if len(p) == 2:
        q = np.array([0.02, 0.98])
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _js(p, (1 - mid) * p + mid * q) < target:
            lo = mid
        else:
            hi = mid
    return (1 - hi) * p + hi * q


def draw(
    rng: np.random.Generator,
    n: int,
    shift: tuple[str, float] | None = None,
    std: dict[str, float] | None = None,
    median: dict[str, float] | None = None,
) -> pd.DataFrame:
    uniform = rng.uniform(0, 10, n)
    uniform[rng.random(n) < 0.1] = np.nan
    cols = {
        "normal": rng.normal(50, 10, n),
        "lognormal": rng.lognormal(0, 0.75, n),
        "counts": rng.poisson(2.5, n).astype(float),
        "uniform_missing": uniform,
        "bimodal": np.where(rng.random(n) < 0.4, rng.normal(-2, 0.6, n), rng.normal(3, 1, n)),
        "exponential": rng.exponential(3, n),
    }
    kind, size = shift or (None, 0.0)
    for name in NUMERIC:
        if kind == "mean":
            assert std is not None
            cols[name] = cols[name] + size * std[name]
        elif kind == "scale":
            assert median is not None
            cols[name] = median[name] + size * (cols[name] - median[name])
    for name in CATEGORICAL:
        p = mixed(LEVELS[name], size) if kind == "mix" else np.asarray(LEVELS[name])
        cols[name] = rng.choice(np.array([f"l{i}" for i in range(len(p))]), n, p=p / p.sum())
    return pd.DataFrame(cols)


def shifted_features(shift) -> tuple[str, ...]:
    return () if shift is None else (CATEGORICAL if shift[0] == "mix" else NUMERIC)


# -- DriftGate (both engines, the default rule and the old rule on the same profiles) -------------
class Engines:
    def __init__(self, reference: pd.DataFrame):
        import duckdb

        from services.drift.memory import memory_profile
        from services.drift.pushdown import sql_profile
        from services.warehouse.duckdb import configure_duckdb, on_view

        self.con = duckdb.connect()
        configure_duckdb(self.con)
        self.on_view = on_view
        self.features = [(n, "numeric") for n in NUMERIC] + [(n, "categorical") for n in CATEGORICAL]
        ref_b = self._backend("driftgate_ref", reference)
        self.ref = {
            "memory": memory_profile(ref_b, self.features, side="reference", bounds=(None, None), ts=None),
            "duckdb": sql_profile(ref_b, self.features, side="reference", bounds=(None, None), ts=None),
        }

    def _backend(self, view, frame):
        self.con.register(view, frame)
        return self.on_view(self.con, view)

    def run(self, current: pd.DataFrame) -> dict[str, tuple[list[str], bool]]:
        from services.drift.memory import memory_profile
        from services.drift.policy import Policy, compare
        from services.drift.pushdown import sql_profile

        assert min(REFERENCES) > 1000  # the old rule's large-sample branch, see below
        cur_b = self._backend("driftgate_cur", current)
        out = {}
        for engine, fn in (("memory", memory_profile), ("duckdb", sql_profile)):
            prof = fn(cur_b, self.features, side="current", bounds=(None, None), ts=None, reference=self.ref[engine])
            rep = compare(self.ref[engine], prof, Policy(), order=FEATURES)
            out[f"{engine}/new"] = (
                [f["feature"] for f in rep["features"] if f["drifted"]],
                bool(rep["dataset"]["drifted"]),
            )
            if engine == "memory":
                # the old rule (Policy(small_sample=1000)) on references > 1,000 rows: the distance
                # alone (wasserstein / jensenshannon >= 0.1, null = drifted), from the same statistics
                old = [
                    f["feature"]
                    for f in rep["features"]
                    if (v := f["stats"]["wasserstein" if f["kind"] == "numeric" else "jensenshannon"]["statistic"])
                    is None
                    or v >= 0.1
                ]
                out["memory/old"] = (old, len(old) / len(FEATURES) >= 0.5)
        self.con.unregister("driftgate_cur")
        return out


# -- Evidently -----------------------------------------------------------------------------------
EVIDENTLY_SCRIPT = r"""
import json, sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
jobs = json.load(sys.stdin)
refs = {}
out = []
for s in jobs:
    if s["ref"] not in refs:
        refs[s["ref"]] = pd.read_parquet(s["ref"])
    snap = Report([DataDriftPreset()]).run(current_data=pd.read_parquet(s["cur"]), reference_data=refs[s["ref"]])
    drifted, dataset = [], False
    for m in snap.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("DriftedColumnsCount"):
            dataset = m["value"]["share"] >= cfg.get("drift_share", 0.5)
        elif cfg["type"].endswith("ValueDrift"):
            v, th = m["value"], cfg["threshold"]
            hit = v < th if "p_value" in cfg["method"] else v >= th
            if hit:
                drifted.append(cfg["column"])
    out.append({"key": s["key"], "dataset": bool(dataset), "drifted": drifted})
print(json.dumps(out))
"""


def run_evidently(jobs) -> dict:
    proc = subprocess.run(
        [str(EVIDENTLY_PY), "-c", EVIDENTLY_SCRIPT], input=json.dumps(jobs), text=True, capture_output=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["evidently failed"])[-1])
    out = {}
    for r in json.loads(proc.stdout.strip().splitlines()[-1]):
        n_ref, n_cur, shift, rep = r["key"]
        out[(n_ref, n_cur, tuple(shift) if shift else None, rep)] = (r["drifted"], r["dataset"])
    return out


# -- aggregation ---------------------------------------------------------------------------------
def rates(results: list[tuple], engine: str, n_ref: int, n_cur: int) -> dict[str, float | int | None]:
    """False alarms (no-drift draws) and detection per shift for one engine and window pair."""
    cell = [(shift, res[engine]) for (r, c, shift, _), res in results if r == n_ref and c == n_cur and engine in res]
    aa = [v for s, v in cell if s is None]
    out: dict[str, float | int | None] = {"reps": len(aa)}
    if aa:
        out["feature_fa"] = float(np.mean([f in drifted for drifted, _ in aa for f in FEATURES]))
        out["dataset_fa"] = float(np.mean([ds for _, ds in aa]))
    for shift in SHIFTS:
        hits = [f in drifted for s, (drifted, _) in cell if s == shift for f in shifted_features(shift)]
        out[f"{shift[0]} {shift[1]:g}"] = float(np.mean(hits)) if hits else None
    return out


def print_table(results: list[tuple]) -> dict:
    """Print the false-alarm and detection rates per engine and window pair; returns them by row."""
    table = {}
    print(
        f"{'engine':<16} {'ref':>7} {'cur':>7} {'reps':>4} {'feat FA':>8} {'data FA':>8} | detection: "
        + " ".join(f"{s[0]} {s[1]:g}".rjust(10) for s in SHIFTS)
    )
    for engine in ("memory/new", "duckdb/new", "memory/old", "evidently"):
        for n_ref in REFERENCES:
            for n_cur in CURRENTS:
                r = rates(results, engine, n_ref, n_cur)
                if not r["reps"]:
                    continue
                table[f"{engine} {n_ref} {n_cur}"] = r
                det = " ".join(
                    ("-" if r[f"{s[0]} {s[1]:g}"] is None else f"{r[f'{s[0]} {s[1]:g}']:.0%}").rjust(10) for s in SHIFTS
                )
                print(
                    f"{engine:<16} {n_ref:>7,} {n_cur:>7,} {r['reps']:>4} {r['feature_fa']:>8.1%} "
                    f"{r['dataset_fa']:>8.1%} | detection: {det}"
                )
    return table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=12, help="no-drift draws per window pair")
    ap.add_argument("--shift-reps", type=int, default=4, help="draws per shift and window pair")
    ap.add_argument("--evidently-reps", type=int, default=4, help="Evidently: draws per case (30k reference)")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results: list[tuple] = []
    ev_jobs: list[dict] = []
    DATA.mkdir(parents=True, exist_ok=True)
    timings = {}
    for n_ref in REFERENCES:
        rng = np.random.default_rng(n_ref)
        reference = draw(rng, n_ref)
        std = {n: float(np.nanstd(reference[n])) for n in NUMERIC}
        median = {n: float(np.nanmedian(reference[n])) for n in NUMERIC}
        engines = Engines(reference)
        ref_path = DATA / f"ref_{n_ref}.parquet"
        if n_ref == REFERENCES[0] and not args.skip_evidently:
            reference.to_parquet(ref_path)
        t = time.perf_counter()
        for n_cur in CURRENTS:
            reps = args.reps if n_cur < 100_000 else max(4, args.reps // 4)
            shift_reps = args.shift_reps if n_cur < 100_000 else max(2, args.shift_reps // 3)
            cases = [(None, reps)] + [(s, shift_reps) for s in SHIFTS]
            for shift, count in cases:
                for rep in range(count):
                    cur = draw(
                        np.random.default_rng((n_ref, n_cur, rep, SHIFTS.index(shift) + 1 if shift else 0, 7)),
                        n_cur,
                        shift,
                        std,
                        median,
                    )
                    key = (n_ref, n_cur, shift, rep)
                    results.append((key, engines.run(cur)))
                    wanted = shift is None or shift in EVIDENTLY_SHIFTS
                    if (
                        not args.skip_evidently
                        and n_ref == REFERENCES[0]
                        and n_cur <= 10_000
                        and wanted
                        and rep < args.evidently_reps
                    ):
                        path = DATA / f"cur_{n_cur}_{shift[0] + str(shift[1]) if shift else 'none'}_{rep}.parquet"
                        cur.to_parquet(path)
                        ev_jobs.append(
                            {
                                "key": [n_ref, n_cur, list(shift) if shift else None, rep],
                                "ref": str(ref_path),
                                "cur": str(path),
                            }
                        )
        timings[n_ref] = time.perf_counter() - t
    ev_time = None
    if ev_jobs:
        if not EVIDENTLY_PY.exists():
            from drift_speed import setup_evidently

            setup_evidently()
        t = time.perf_counter()
        ev = run_evidently(ev_jobs)
        ev_time = time.perf_counter() - t
        for key, res in results:
            if key in ev:
                res["evidently"] = ev[key]
    table = print_table(results)
    total = time.perf_counter() - t0
    print(
        f"\nDriftGate (both engines + old rule, {len(results)} draws): "
        + ", ".join(f"ref {k:,}: {v:.0f} s" for k, v in timings.items())
        + (f"; Evidently ({len(ev_jobs)} reports): {ev_time:.0f} s" if ev_time else "")
        + f"; total {total:.0f} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
