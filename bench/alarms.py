"""Trustworthy alarms: false-alarm rate on no-drift (A/A) splits and detection rate on injected
shifts of known size, DriftGate's default rules vs Evidently 0.7.23's DataDriftPreset defaults,
on the same simulated files.

Each simulation: 8 features (5 numeric N(0, 1), 3 categorical over 3 levels), n rows per side.
  A/A:   both sides from the same distribution.
  shift: num_0, num_1 mean +0.25 std; cat_0, cat_1 mix [.5 .3 .2] -> [.3 .35 .35]
         (4 of 8 features = a dataset drift share of exactly 0.5 when all are caught).
Printed: dataset-verdict false-alarm rate (A/A), dataset detection rate (shift), per-feature
false-alarm rate among unshifted features and per-feature detection among shifted ones.
Evidently runs in its own venv (bench/.venv-evidently, pandas<3). Usage:
  python bench/alarms.py [--sizes 500,5000,50000,500000] [--reps 30,30,10,4] [--skip-evidently]
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
DATA = ROOT / "bench" / "data" / "alarms"
EVIDENTLY_PY = ROOT / "bench" / ".venv-evidently" / "bin" / "python"
SHIFTED = {"num_0", "num_1", "cat_0", "cat_1"}
FEATURES = [f"num_{i}" for i in range(5)] + [f"cat_{j}" for j in range(3)]


def simulate(n: int, seed: int, shift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(5):
        cols[f"num_{i}"] = rng.normal(0.25 if shift and i < 2 else 0.0, 1.0, n)
    for j in range(3):
        p = [0.3, 0.35, 0.35] if shift and j < 2 else [0.5, 0.3, 0.2]
        cols[f"cat_{j}"] = rng.choice(np.array(["a", "b", "c"]), n, p=p)
    return pd.DataFrame(cols)


def write_sims(sizes, reps) -> list[dict]:
    DATA.mkdir(parents=True, exist_ok=True)
    sims = []
    for n, r in zip(sizes, reps):
        for rep in range(r):
            for kind in ("aa", "shift"):
                ref_p, cur_p = DATA / f"{n}_{rep}_{kind}_ref.parquet", DATA / f"{n}_{rep}_{kind}_cur.parquet"
                if not (ref_p.exists() and cur_p.exists()):
                    simulate(n, 1_000_000 + 1000 * rep + n % 997, False).to_parquet(ref_p)
                    simulate(n, 2_000_000 + 1000 * rep + n % 997, kind == "shift").to_parquet(cur_p)
                sims.append({"n": n, "rep": rep, "kind": kind, "ref": str(ref_p), "cur": str(cur_p)})
    return sims


def run_driftgate(sims) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from services.drift import drift_report
    from services.sources import Source

    out = []
    for s in sims:
        rep = drift_report(Source("parquet", s["ref"]), Source("parquet", s["cur"]), engine="duckdb")
        out.append({**s, "dataset": rep["dataset"]["drifted"],
                    "drifted": [f["feature"] for f in rep["features"] if f["drifted"]]})
    return out


EVIDENTLY_SCRIPT = r"""
import json, sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
sims = json.load(sys.stdin)
out = []
for s in sims:
    snap = Report([DataDriftPreset()]).run(current_data=pd.read_parquet(s["cur"]), reference_data=pd.read_parquet(s["ref"]))
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
    out.append({**s, "dataset": bool(dataset), "drifted": drifted})
print(json.dumps(out))
"""


def run_evidently(sims) -> list[dict]:
    proc = subprocess.run([str(EVIDENTLY_PY), "-c", EVIDENTLY_SCRIPT], input=json.dumps(sims), text=True,
                          capture_output=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(results, sizes) -> dict:
    table = {}
    for n in sizes:
        aa = [r for r in results if r["n"] == n and r["kind"] == "aa"]
        sh = [r for r in results if r["n"] == n and r["kind"] == "shift"]
        fa_feat = [f in r["drifted"] for r in aa for f in FEATURES] + \
                  [f in r["drifted"] for r in sh for f in FEATURES if f not in SHIFTED]
        det_feat = [f in r["drifted"] for r in sh for f in SHIFTED]
        table[n] = {"reps": len(aa), "aa_dataset_false_alarm": np.mean([r["dataset"] for r in aa]),
                    "shift_dataset_detection": np.mean([r["dataset"] for r in sh]),
                    "feature_false_alarm": np.mean(fa_feat), "feature_detection": np.mean(det_feat)}
    return table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="500,5000,50000,500000")
    ap.add_argument("--reps", default="30,30,10,4")
    ap.add_argument("--skip-evidently", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    reps = [int(x) for x in args.reps.split(",")]
    sims = write_sims(sizes, reps)
    t = time.perf_counter()
    ours = summarise(run_driftgate(sims), sizes)
    t_ours = time.perf_counter() - t
    theirs, t_ev = None, None
    if not args.skip_evidently and EVIDENTLY_PY.exists():
        t = time.perf_counter()
        theirs = summarise(run_evidently(sims), sizes)
        t_ev = time.perf_counter() - t
    print("rows/side  reps | DriftGate: A/A FA  shift det  feat FA  feat det | Evidently: A/A FA  shift det  feat FA  feat det")
    for n in sizes:
        o = ours[n]
        line = (f"{n:>9,} {o['reps']:>5} |            {o['aa_dataset_false_alarm']:>6.1%} {o['shift_dataset_detection']:>10.1%}"
                f" {o['feature_false_alarm']:>8.1%} {o['feature_detection']:>9.1%} |")
        if theirs:
            e = theirs[n]
            line += (f"            {e['aa_dataset_false_alarm']:>6.1%} {e['shift_dataset_detection']:>10.1%}"
                     f" {e['feature_false_alarm']:>8.1%} {e['feature_detection']:>9.1%}")
        print(line)
    print(f"\ntime: DriftGate {t_ours:.1f} s" + (f", Evidently {t_ev:.1f} s (ratio {t_ev / t_ours:.1f}x)" if t_ev else ""))


if __name__ == "__main__":
    main()
