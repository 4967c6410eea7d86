"""``python -m services.cli leaderboard``: spec JSON and exit codes, against the demo and a server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from services.cli import main
from tests.support.cli import run_cli as cli_process

ROOT = Path(__file__).resolve().parents[2]
ROW_KEYS = {"run_id", "run_name", "rank", "value", "is_champion", "delta_vs_champion", "metrics", "params"}


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_leaderboard_json(demo_settings, capsys):
    code, out, err = run_cli(
        capsys, "leaderboard", "--experiment", "churn_classifier", "--metric", "roc_auc", "--format", "json"
    )
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["metric"] == "roc_auc" and isinstance(doc["parent_run"], str)
    assert all(set(r) >= ROW_KEYS for r in doc["rows"])
    names = [r["run_name"] for r in doc["rows"]]
    # Demo ground truth: the recent GBM wins, the stale logistic regression is last; champion re-eval is the baseline.
    ranked = [r for r in doc["rows"] if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert ranked[0]["run_name"] == "gbm_recent"
    assert set(names) == {"gbm_recent", "rf_recent", "logreg_stale", "champion-v1-reeval"}
    champ = [r for r in doc["rows"] if r["is_champion"]]
    assert len(champ) == 1 and champ[0]["run_name"] == "champion-v1-reeval" and champ[0]["rank"] is None
    values = [r["value"] for r in ranked]
    assert values == sorted(values, reverse=True)
    for r in ranked:
        assert r["delta_vs_champion"] == pytest.approx(r["value"] - champ[0]["value"])
        assert r["value"] == pytest.approx(r["metrics"]["roc_auc"])
    assert ranked[0]["delta_vs_champion"] > 0


def test_demo_lower_is_better_and_explicit_parent(demo_settings, capsys):
    code, out, _ = run_cli(
        capsys, "leaderboard", "--experiment", "churn_classifier", "--metric", "brier", "--lower-is-better"
    )
    doc = json.loads(out)
    ranked = [r["value"] for r in doc["rows"] if r["rank"] is not None]
    assert code == 0 and ranked == sorted(ranked)
    code2, out2, _ = run_cli(
        capsys,
        "leaderboard",
        "--experiment",
        "churn_classifier",
        "--parent-run",
        doc["parent_run"],
        "--metric",
        "brier",
        "--lower-is-better",
        "--format",
        "json",
    )
    assert code2 == 0 and json.loads(out2)["rows"] == doc["rows"]


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["--experiment", "no_such_experiment", "--metric", "roc_auc"], "experiment 'no_such_experiment' not found"),
        (["--experiment", "churn_classifier", "--metric", "no_such_metric"], "metric 'no_such_metric'"),
        (["--experiment", "churn_classifier", "--metric", "roc_auc", "--parent-run", "f" * 32], "not found"),
    ],
)
def test_demo_bad_input_exit_2(demo_settings, capsys, argv, reason):
    code, out, err = run_cli(capsys, "leaderboard", *argv, "--format", "json")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and reason in err and err.count("\n") == 1


def test_server_subprocess_with_nan_and_missing(server_runs):
    """A user pointing MLFLOW_TRACKING_URI at their own server: no code change, spec JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("DRIFTGATE_CONFIG",)}
    env["MLFLOW_TRACKING_URI"] = server_runs.tracking_uri
    proc = cli_process(
        [
            "leaderboard",
            "--experiment",
            server_runs.experiment,
            "--metric",
            "roc_auc",
            "--format",
            "json",
        ],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # NaN metrics are printed as null: valid JSON
    assert doc["parent_run"] == server_runs.parent_id
    tail = doc["rows"][-2:]
    assert {r["run_name"] for r in tail} == {"no-metric", "nan-metric"}
    assert all(r["rank"] is None and r["value"] is None for r in tail)
    nan_row = next(r for r in tail if r["run_name"] == "nan-metric")
    assert nan_row["metrics"]["roc_auc"] is None
    bad = cli_process(
        [
            "leaderboard",
            "--experiment",
            server_runs.experiment,
            "--metric",
            "zzz",
        ],
        env=env,
    )
    assert bad.returncode == 2 and bad.stdout == "" and "metric 'zzz'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_experiment_without_parent_runs_ranks_all(sqlite_runs, capsys, monkeypatch):
    import mlflow

    from services.compare.leaderboard import build_leaderboard

    client = mlflow.MlflowClient(sqlite_runs.tracking_uri)
    exp = client.create_experiment(
        "flat-experiment", artifact_location=Path(sqlite_runs.tracking_uri[10:]).parent.joinpath("flat").as_uri()
    )
    for i, v in enumerate([0.7, 0.9, 0.8]):
        run = client.create_run(exp, run_name=f"r{i}")
        client.log_metric(run.info.run_id, "auc", v)
        client.set_terminated(run.info.run_id)
    board = build_leaderboard(client, "flat-experiment", "auc")
    assert board.parent is None and [r.run.run_name for r in board.rows] == ["r1", "r2", "r0"]
    assert not board.like_for_like
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_runs.tracking_uri)
    code, out, _ = run_cli(
        capsys, "leaderboard", "--experiment", "flat-experiment", "--metric", "auc", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["parent_run"] is None and [r["rank"] for r in doc["rows"]] == [1, 2, 3]
