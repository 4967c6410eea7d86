"""Leaderboard and SHAP comparison speed (issue 6 targets).

    python bench/leaderboard_speed.py [--runs 1000,10000] [--metrics 20] [--server] [--skip-shap]

1. Leaderboard: a retraining parent with ``--runs`` candidate children x ``--metrics`` metrics in a
   local MLflow store (SQLite, cached outside the repository under
   ``${XDG_CACHE_HOME:-~/.cache}/driftgate-bench``, reused between runs; ``--runs`` takes a
   comma-separated series, each size printed beside the others; ``--server`` also measures
   through a local ``mlflow server``). Counts MLflow calls and times the cold build, a repeat
   build, and the page's warm render work (ranking table + ranked-bars figure from the cached
   board). Peer measured in the same run: the naive way, one ``get_run`` per child.
2. SHAP: mean |SHAP| of two tree models (the demo's GBM and random forest pipelines) on 1,000
   rows, vs sklearn's permutation importance of the same two models on the same rows.

Targets: warm render < 2 s, cold with a handful of MLflow calls; SHAP of two tree models < 5 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = Path(
    os.environ.get("DRIFTGATE_BENCH_DATA")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "driftgate-bench"
)


class Counting:
    """Forwards to an MlflowClient and counts the calls made through it."""

    def __init__(self, client):
        self._client, self.calls = client, 0

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if callable(attr):

            def wrapped(*a, **k):
                self.calls += 1
                return attr(*a, **k)

            return wrapped
        return attr


def seed_store(uri: str, runs: int, metrics: int) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(uri)
    name = f"bench-{runs}x{metrics}"
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return name
    exp_id = client.create_experiment(name, artifact_location=(DATA / "artifacts").as_uri())
    parent = client.create_run(exp_id, run_name="retraining", tags={"driftgate.trigger": "bench"})
    pid = parent.info.run_id
    t0 = time.perf_counter()
    import random

    rnd = random.Random(0)
    # The first candidates through the client (MLflow writes its rows); the rest as the same rows in
    # one transaction: ~1 s per run through the client on this machine would make 10,000 runs take hours.
    through_client = min(runs, 20)
    for i in range(through_client):
        tags = {"mlflow.parentRunId": pid, "mlflow.runName": f"cand-{i:04d}"}
        if i == 0:
            tags["driftgate.role"] = "champion"
        run = client.create_run(exp_id, run_name=f"cand-{i:04d}", tags=tags)
        ts = int(time.time() * 1000)
        ms = [Metric(f"m{j:02d}", rnd.random(), ts, 0) for j in range(metrics)]
        if i % 50 == 7:
            ms = ms[1:]  # some runs lack the selection metric
        client.log_batch(
            run.info.run_id,
            metrics=ms,
            params=[Param("depth", str(rnd.randint(2, 9))), Param("lr", f"{rnd.random():.3f}")],
            tags=[RunTag("driftgate.eval_window", "w")],
        )
        client.set_terminated(run.info.run_id)
    if runs > through_client:
        _bulk_children(uri, exp_id, pid, range(through_client, runs), metrics, rnd)
    client.set_terminated(pid)
    print(f"seeded {runs} runs x {metrics} metrics in {time.perf_counter() - t0:.1f} s")
    return name


def _bulk_children(uri: str, exp_id: str, parent_id: str, indices, metrics: int, rnd) -> None:
    """Child runs as MLflow's SQL store writes them (runs, tags, params, metrics, latest_metrics)."""
    import sqlite3
    import uuid

    con = sqlite3.connect(uri.removeprefix("sqlite:///"))
    ts = int(time.time() * 1000)
    runs, tags, params, mets = [], [], [], []
    for i in indices:
        rid = uuid.uuid4().hex
        runs.append(
            (
                rid,
                f"cand-{i:04d}",
                "UNKNOWN",
                "",
                "",
                "unknown",
                "FINISHED",
                ts,
                ts + 1,
                "",
                "active",
                (DATA / "artifacts" / rid / "artifacts").as_uri(),
                int(exp_id),
                None,
            )
        )
        tags += [
            ("mlflow.parentRunId", parent_id, rid),
            ("mlflow.runName", f"cand-{i:04d}", rid),
            ("mlflow.user", "unknown", rid),
            ("driftgate.eval_window", "w", rid),
        ]
        vals = [(f"m{j:02d}", rnd.random()) for j in range(metrics)]
        if i % 50 == 7:
            vals = vals[1:]
        mets += [(k, v, ts, rid, 0, 0) for k, v in vals]
        params += [("depth", str(rnd.randint(2, 9)), rid), ("lr", f"{rnd.random():.3f}", rid)]
    with con:
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
            "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, "
            "deleted_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            runs,
        )
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", mets
        )
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
            [(k, v, t, st, nan, rid) for k, v, t, rid, st, nan in mets],
        )
    con.close()


def bench_leaderboard(uri: str, experiment: str, label: str) -> dict:
    from mlflow import MlflowClient

    from components.leaderboard_charts import ranked_bars, top_bars
    from services.compare.leaderboard import build_leaderboard
    from services.registry.runs import children_of, get_run

    first = MlflowClient(uri)  # warm-up: a server's first request pays its lazy start-up
    exp = first.get_experiment_by_name(experiment)
    assert exp is not None, experiment
    first.search_runs([exp.experiment_id], max_results=1)
    client = Counting(MlflowClient(uri))
    t = time.perf_counter()
    board = build_leaderboard(client, experiment, "m00")
    cold = time.perf_counter() - t
    cold_calls = client.calls
    client.calls = 0
    t = time.perf_counter()
    build_leaderboard(client, experiment, "m00")
    repeat = time.perf_counter() - t
    # Warm page render: the board comes from st.cache_data; the page builds the table + figure.
    t = time.perf_counter()
    rows = board.table()
    fig = ranked_bars(top_bars([{**r, "value": r.get("m00")} for r in rows])[0], "m00")  # as the page
    fig.to_json()
    warm = time.perf_counter() - t

    # Peer: the naive reader, one get_run per child after listing the children's ids.
    naive = Counting(MlflowClient(uri))
    t = time.perf_counter()
    assert board.parent is not None, "the bench logs a retraining parent"
    ids = [r.run_id for r in children_of(naive, board.experiment.experiment_id, board.parent.run_id)[0]]
    for rid in ids:
        get_run(naive, rid)
    naive_s = time.perf_counter() - t
    n = len(board.rows)
    print(
        f"[{label}] leaderboard of {n} runs: cold {cold:.2f} s with {cold_calls} MLflow calls; "
        f"repeat {repeat:.2f} s; warm render (table + figure) {warm:.3f} s"
    )
    print(
        f"[{label}] peer (one get_run per run): {naive_s:.2f} s with {naive.calls} calls -> "
        f"{naive_s / cold:.1f}x slower, {naive.calls / max(cold_calls, 1):.0f}x more calls"
    )
    return {
        "label": label,
        "runs": n,
        "cold": cold,
        "calls": cold_calls,
        "repeat": repeat,
        "warm": warm,
        "naive": naive_s,
        "naive_calls": naive.calls,
    }


def bench_shap(rows: int = 1000) -> None:
    from sklearn.inspection import permutation_importance

    from services.compare.shap import compare_importance, explain
    from services.demo import seed as demo
    from services.demo.data import generate_days
    from services.retraining.training import build_pipeline, model_input

    train = generate_days(62, 68, n=1000)
    recent = generate_days(69, 71, n=1000).head(rows)
    cat, num = demo.CATEGORICAL_FEATURES, demo.NUMERIC_FEATURES
    X_train, X = model_input(train, cat + num, cat), model_input(recent, cat + num, cat)
    y_train, y = train[demo.LABEL].to_numpy(int), recent[demo.LABEL].to_numpy(int)
    models = {k: build_pipeline(k, numeric=num, categorical=cat).fit(X_train, y_train) for k in ("gbm", "rf")}
    t = time.perf_counter()
    imps = {k: explain(m, X, y, k) for k, m in models.items()}
    compare_importance(imps["gbm"].values, imps["rf"].values)
    shap_s = time.perf_counter() - t
    t = time.perf_counter()
    for m in models.values():
        permutation_importance(m, X, y, scoring="roc_auc", n_repeats=5, random_state=0)
    perm_s = time.perf_counter() - t
    print(
        f"SHAP comparison of two tree models ({', '.join(i.method for i in imps.values())}) on {len(X)} rows: "
        f"{shap_s:.2f} s; peer sklearn permutation importance (5 repeats): {perm_s:.2f} s -> ratio {perm_s / shap_s:.1f}x"
    )


def start_server(root: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{(root / 'leaderboard.db').as_posix()}",
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from tests.support.servers import wait_http

    wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="1000", help="candidate runs per board; a series: 1000,10000")
    ap.add_argument("--metrics", type=int, default=20)
    ap.add_argument("--server", action="store_true", help="also measure through a local mlflow server")
    ap.add_argument("--skip-shap", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    DATA.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(DATA / 'leaderboard.db').as_posix()}"
    results = []
    for runs in [int(x) for x in str(args.runs).split(",") if x.strip()]:
        exp = seed_store(uri, runs, args.metrics)
        results.append(bench_leaderboard(uri, exp, "sqlite"))
        if args.server:
            proc, http = start_server(DATA)
            try:
                results.append(bench_leaderboard(http, exp, "mlflow server"))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    if len(results) > 1:
        print(
            f"\n{'store':<14} {'runs':>6} {'cold s':>7} {'calls':>6} {'repeat s':>9} {'warm render s':>14} "
            f"{'peer s':>7} {'peer calls':>11}"
        )
        for r in results:
            print(
                f"{r['label']:<14} {r['runs']:>6} {r['cold']:>7.2f} {r['calls']:>6} {r['repeat']:>9.2f} "
                f"{r['warm']:>14.3f} {r['naive']:>7.2f} {r['naive_calls']:>11}"
            )
    if not args.skip_shap:
        bench_shap()


if __name__ == "__main__":
    main()
