"""Leaderboard + runs services against a real ``mlflow server`` and a SQLite store (runs logged here)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from services.compare.leaderboard import (
    bootstrap_delta,
    bootstrap_indices,
    build_leaderboard,
    load_predictions,
    rank_rows,
    with_intervals,
)
from services.errors import BadInput, NotFound, Unavailable
from services.registry.runs import RunRow, get_run, retraining_runs, search_runs_paged


@pytest.fixture(params=[pytest.param("server", marks=pytest.mark.server), "sqlite"])
def store(request):
    """(client, logged runs) for the HTTP server and for the SQLite store."""
    if request.param == "server":
        return request.getfixturevalue("server_client"), request.getfixturevalue("server_runs")
    return request.getfixturevalue("sqlite_client"), request.getfixturevalue("sqlite_runs")


def expected_order(logged, greater=True):
    vals = {n: v for n, v in logged.values.items() if n != "champion-reeval" and v is not None and math.isfinite(v)}
    return sorted(vals, key=lambda n: -vals[n] if greater else vals[n])


def test_ranking_champion_and_missing_last(store):
    client, logged = store
    board = build_leaderboard(client, logged.experiment, "roc_auc")
    # Default parent: the most recent run with children, not the older retraining run.
    assert board.parent is not None and board.parent.run_id == logged.parent_id
    assert board.like_for_like
    names = [r.run.run_name for r in board.rows]
    order = expected_order(logged)
    assert names[: len(order)] == order
    assert [r.rank for r in board.rows[: len(order)]] == list(range(1, len(order) + 1))
    champ = board.champion
    assert champ is not None and champ.run.run_name == "champion-reeval" and champ.rank is None
    assert champ.value is not None
    assert champ.value == pytest.approx(logged.values["champion-reeval"])
    # Missing and NaN metrics: last, rank and value null, never dropped.
    assert set(names[-2:]) == {"no-metric", "nan-metric"}
    assert all(r.rank is None and r.value is None for r in board.rows[-2:])
    assert len(board.rows) == len(logged.children)
    for r in board.rows:
        if r.value is not None and not r.is_champion:
            assert r.delta_vs_champion == pytest.approx(r.value - champ.value)
    assert board.winner is not None and board.winner.run.run_name == order[0]


def test_lower_is_better(store):
    client, logged = store
    board = build_leaderboard(client, logged.experiment, "brier", greater_is_better=False)
    ranked = [r for r in board.rows if r.rank is not None]
    vals = [r.value for r in ranked if r.value is not None]
    assert vals == sorted(vals) and len(vals) == len(ranked) == 5  # 4 candidates + "no-metric" (logs brier)
    assert board.champion is not None and board.champion.run.run_name == "champion-reeval"


def test_explicit_parent_without_champion_is_not_like_for_like(store):
    client, logged = store
    board = build_leaderboard(client, logged.experiment, "roc_auc", parent_run=logged.old_parent_id)
    assert [r.run.run_name for r in board.rows] == ["old-candidate"]
    assert board.rows[0].rank == 1 and board.rows[0].delta_vs_champion is None
    assert not board.like_for_like and board.champion is None
    assert any("not like-for-like" in n for n in board.notes)
    assert board.to_json()["parent_run"] == logged.old_parent_id


def test_pagination_past_one_page(store):
    client, logged = store
    exp = client.get_experiment_by_name(logged.experiment)
    runs, truncated = search_runs_paged(client, [exp.experiment_id], page_size=3)
    direct = client.search_runs([exp.experiment_id], max_results=1000)
    assert not truncated
    assert sorted(r.run_id for r in runs) == sorted(r.info.run_id for r in direct)
    assert len({r.run_id for r in runs}) == len(runs) == 2 + 1 + len(logged.children)
    small = build_leaderboard(client, logged.experiment, "roc_auc", page_size=2)
    big = build_leaderboard(client, logged.experiment, "roc_auc")
    key = lambda b: [(r.run.run_id, r.rank, r.value, r.is_champion, r.delta_vs_champion) for r in b.rows]  # noqa: E731
    assert key(small) == key(big)
    # 1 experiment lookup + ceil(runs / page size) searches, never one call per run.
    assert small.calls == 1 + math.ceil(len(runs) / 2)
    assert big.calls == 2
    # Explicit parent: get_run + one children search per page.
    by_parent = build_leaderboard(client, logged.experiment, "roc_auc", parent_run=logged.parent_id, page_size=4)
    assert by_parent.calls == 2 + math.ceil(len(logged.children) / 4)
    assert [r.run.run_id for r in by_parent.rows] == [r.run.run_id for r in big.rows]


def test_limit_truncates_and_says_so(store):
    client, logged = store
    exp = client.get_experiment_by_name(logged.experiment)
    runs, truncated = search_runs_paged(client, [exp.experiment_id], page_size=2, limit=3)
    assert truncated and len(runs) == 3


def test_bad_input(store):
    client, logged = store
    with pytest.raises(NotFound, match="experiment 'no-such-exp' not found"):
        build_leaderboard(client, "no-such-exp", "roc_auc")
    with pytest.raises(NotFound, match="metric 'nope'"):
        build_leaderboard(client, logged.experiment, "nope")
    with pytest.raises(NotFound, match="run"):
        build_leaderboard(client, logged.experiment, "roc_auc", parent_run="0" * 32)
    with pytest.raises(BadInput):
        build_leaderboard(client, logged.experiment, "")


def test_deleted_run_is_not_found(sqlite_client, sqlite_runs, tmp_path):
    exp = sqlite_client.create_experiment("with-deleted", artifact_location=(tmp_path / "a").as_uri())
    parent = sqlite_client.create_run(exp, run_name="retraining").info.run_id
    kids = {}
    for name, v in (("keep", 0.7), ("gone", 0.9)):
        rid = sqlite_client.create_run(exp, run_name=name, tags={"mlflow.parentRunId": parent}).info.run_id
        sqlite_client.log_metric(rid, "roc_auc", v)
        kids[name] = rid
    sqlite_client.delete_run(kids["gone"])
    with pytest.raises(NotFound, match="deleted"):
        get_run(sqlite_client, kids["gone"])
    board = build_leaderboard(sqlite_client, "with-deleted", "roc_auc")
    assert [r.run.run_name for r in board.rows] == ["keep"]


def test_unreachable_server_is_one_line_unavailable(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    from tests.support.servers import free_port

    client = MlflowClient(tracking_uri=f"http://127.0.0.1:{free_port()}")
    t0 = time.monotonic()
    with pytest.raises(Unavailable) as exc:
        build_leaderboard(client, "anything", "roc_auc")
    assert time.monotonic() - t0 < 20
    assert "\n" not in str(exc.value) and "cannot be reached" in str(exc.value)


def test_retraining_view(store):
    client, logged = store
    view = retraining_runs(client, logged.experiment, metric="roc_auc")
    assert [p.run.run_id for p in view.parents] == [logged.parent_id, logged.old_parent_id]
    newest = view.parents[0]
    assert newest.run.trigger == "drift persisted 3 windows (test)"
    assert newest.n_candidates == len(logged.children) - 1
    assert newest.champion is not None and newest.champion.run_name == "champion-reeval"
    assert newest.winner is not None and newest.winner.run_name == expected_order(logged)[0]
    assert newest.run.duration_s is not None and newest.run.duration_s >= 0
    assert view.calls == 2 and not view.standalone
    # Autologged scikit-learn params are visible on the children.
    gbm = next(c for c in newest.children if c.run_name == "gbm")
    assert gbm.params.get("n_estimators") == "30"


def test_bootstrap_matches_direct_computation(store):
    client, logged = store
    cand, champ = logged.predictions["gbm"], logged.predictions["champion-reeval"]
    iv = bootstrap_delta(cand, champ, "roc_auc", n_boot=300, seed=7)
    assert iv is not None
    # Direct computation: the same resampled rows (same seed) through scikit-learn.
    y, sc, sb = cand["y_true"].to_numpy(), cand["y_score"].to_numpy(), champ["y_score"].to_numpy()
    idx = bootstrap_indices(len(y), 300, 7)
    deltas = np.array([roc_auc_score(y[i], sc[i]) - roc_auc_score(y[i], sb[i]) for i in idx])
    lo, hi = np.quantile(deltas, [0.025, 0.975])
    assert iv.low == pytest.approx(lo, abs=1e-12) and iv.high == pytest.approx(hi, abs=1e-12)
    assert iv.delta == pytest.approx(roc_auc_score(y, sc) - roc_auc_score(y, sb))
    assert iv.p_better == pytest.approx(float((deltas > 0).mean()))
    # Through MLflow artifacts: the interval lands on the leaderboard row.
    board = with_intervals(client, build_leaderboard(client, logged.experiment, "roc_auc"), n_boot=300, seed=7)
    row = next(r for r in board.rows if r.run.run_name == "gbm")
    assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi), abs=1e-12)
    assert load_predictions(client, logged.children["no-metric"]) is None


@pytest.mark.parametrize("metric", ["accuracy", "brier", "log_loss", "f1"])
def test_bootstrap_other_metrics_match_sklearn(sqlite_runs, metric):
    from services.compare.leaderboard import sklearn_metric

    cand, champ = sqlite_runs.predictions["rf"], sqlite_runs.predictions["champion-reeval"]
    iv = bootstrap_delta(cand, champ, metric, n_boot=100, seed=3)  # each replicate checked: 100 are plenty
    f = sklearn_metric(metric)
    assert iv is not None and f is not None
    y, sc, sb = cand["y_true"].to_numpy(), cand["y_score"].to_numpy(), champ["y_score"].to_numpy()
    deltas = np.array([f(y[i], sc[i]) - f(y[i], sb[i]) for i in bootstrap_indices(len(y), 100, 3)])
    assert (iv.low, iv.high) == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])), abs=1e-9)


def _row(i, value, champion=False):
    tags = {"driftgate.role": "champion"} if champion else {}
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    metrics = {} if value == "missing" else {"m": value}
    return RunRow(f"r{i}", f"run{i}", "1", "FINISHED", start, start, "p", "active", metrics, {}, tags)


@hsettings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just("missing")), min_size=0, max_size=12
    ),
    champion_at=st.one_of(st.none(), st.integers(0, 11)),
    greater=st.booleans(),
)
def test_rank_rows_properties(values, champion_at, greater):
    runs = [_row(i, v, champion=(i == champion_at)) for i, v in enumerate(values)]
    rows = rank_rows(runs, "m", greater)
    assert sorted(r.run.run_id for r in rows) == sorted(r.run_id for r in runs)  # nothing dropped
    ranked = [r for r in rows if r.rank is not None]
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert rows[: len(ranked)] == tuple(ranked)  # ranked rows first
    vals = [r.value for r in ranked if r.value is not None]
    assert len(vals) == len(ranked) and vals == sorted(vals, reverse=greater)
    assert all(math.isfinite(v) for v in vals)
    assert all(r.value is None for r in rows if r.rank is None and not r.is_champion)
    assert sum(r.is_champion for r in rows) == (1 if champion_at is not None and champion_at < len(values) else 0)
    nulls = [i for i, r in enumerate(rows) if r.value is None]
    assert nulls == list(range(len(rows) - len(nulls), len(rows)))  # missing values last


def test_nested_grid_search_candidates(sqlite_runs, tmp_path):
    """Autologged GridSearchCV inside a retraining run: candidates are the parent's direct children."""
    import mlflow
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    from tests.support.runs import make_data

    X, y = make_data(200)
    old = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(sqlite_runs.tracking_uri)
    try:
        exp_id = mlflow.create_experiment("grid-nested", artifact_location=(tmp_path / "a").as_uri())
        mlflow.sklearn.autolog(log_models=False, silent=True, max_tuning_runs=3, log_datasets=False)
        with mlflow.start_run(experiment_id=exp_id, run_name="retraining"):
            with mlflow.start_run(experiment_id=exp_id, run_name="grid", nested=True):
                GridSearchCV(
                    DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 3]}, cv=2, scoring="roc_auc"
                ).fit(X, y)
                mlflow.log_metric("roc_auc", 0.8)
            with mlflow.start_run(experiment_id=exp_id, run_name="plain", nested=True):
                mlflow.log_metric("roc_auc", 0.7)
    finally:
        mlflow.sklearn.autolog(disable=True)
        mlflow.set_tracking_uri(old)
    client = MlflowClient(sqlite_runs.tracking_uri)
    all_runs, _ = search_runs_paged(client, [exp_id])
    assert len(all_runs) == 6  # retraining, grid, 3 autologged trials, plain
    board = build_leaderboard(client, "grid-nested", "roc_auc")
    assert board.parent is not None and board.parent.run_name == "retraining"
    assert [r.run.run_name for r in board.rows] == ["grid", "plain"]
    view = retraining_runs(client, "grid-nested")
    assert [p.run.run_name for p in view.parents] == ["retraining"] and not view.standalone
