"""The embedded demo workspace: a real MLflow store and scoring log with the documented story."""

from __future__ import annotations

import json

import duckdb
import mlflow
import numpy as np
import pytest
from scipy import stats

from services.demo import seed as demo
from services.registry.mlflow_client import make_client
from tests.support.cli import run_cli

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fluent_mlflow(demo_settings):
    """Fluent mlflow APIs (models:/ URIs) point at the demo store during these tests."""
    prev = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(demo_settings.tracking_uri)
    mlflow.set_registry_uri(demo_settings.registry_uri)
    yield
    mlflow.set_tracking_uri(prev[0])
    mlflow.set_registry_uri(prev[1])


def test_registry_story(demo_settings):
    client = make_client(demo_settings)
    champ = client.get_model_version_by_alias(demo.MODEL_NAME, "champion")
    assert str(champ.version) == "1" and champ.current_stage == "Production"
    versions = {str(v.version): v for v in client.search_model_versions(f"name='{demo.MODEL_NAME}'")}
    assert set(versions) == {"1", "2", "3"}
    assert versions["2"].tags["driftgate.author"] == "bob" == versions["3"].tags["driftgate.author"]
    assert versions["1"].tags["driftgate.author"] == "alice"
    for v in versions.values():  # every registered version has an input signature
        info = mlflow.models.get_model_info(f"models:/{demo.MODEL_NAME}/{v.version}")
        assert info.signature is not None and info.signature.inputs is not None
    inputs_v1 = {c.name for c in mlflow.models.get_model_info(f"models:/{demo.MODEL_NAME}/1").signature.inputs}
    inputs_v3 = {c.name for c in mlflow.models.get_model_info(f"models:/{demo.MODEL_NAME}/3").signature.inputs}
    assert inputs_v1 == set(demo.FEATURES) and inputs_v1 - inputs_v3 == {"payment_method"}


def test_retraining_run_with_children(demo_settings):
    client = make_client(demo_settings)
    exp = client.get_experiment_by_name(demo.EXPERIMENT)
    assert exp is not None  # the demo created its experiment
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "driftgate.trigger" in r.data.tags]
    assert len(parents) == 1
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.info.run_name for r in children) == [
        "champion-v1-reeval",
        "gbm_recent",
        "logreg_stale",
        "rf_recent",
    ]
    assert {r.data.tags["driftgate.eval_window"] for r in children} == {parents[0].data.tags["driftgate.eval_window"]}
    roles = {r.info.run_name: r.data.tags["driftgate.role"] for r in children}
    assert roles["champion-v1-reeval"] == "champion"
    metrics = {r.info.run_name: r.data.metrics for r in children}
    # the passing candidate clearly beats the champion on the same window; the stale one does not
    assert metrics["gbm_recent"]["roc_auc"] > metrics["champion-v1-reeval"]["roc_auc"] + 0.05
    assert metrics["logreg_stale"]["roc_auc"] < metrics["champion-v1-reeval"]["roc_auc"] + 0.005
    for r in children:
        for key in ("roc_auc", "accuracy", "f1", "brier", "log_loss"):
            assert key in r.data.metrics


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_logged_models_load_back(demo_settings, version):
    model = mlflow.pyfunc.load_model(f"models:/{demo.MODEL_NAME}/{version}")
    frame = _con(demo_settings).sql("SELECT * FROM log LIMIT 50").df()
    cols = [c.name for c in model.metadata.get_input_schema().inputs]
    pred = model.predict(frame[cols].astype({c: object for c in cols if c in demo.CATEGORICAL_FEATURES}))
    assert len(pred) == 50 and set(np.unique(pred)) <= {0, 1}


def _con(settings):
    """DuckDB over the Delta scoring log as an Arrow dataset (view ``log``)."""
    from deltalake import DeltaTable

    con = duckdb.connect()
    con.register("log", DeltaTable(str(demo.scoring_log_path(settings))).to_pyarrow_dataset())
    return con


def _window(con, first_day, last_day, start, column):
    d0, d1 = demo.day_date(start, first_day), demo.day_date(start, last_day)
    return con.execute(
        f"SELECT {column} FROM log WHERE batch_date BETWEEN ? AND ? AND {column} IS NOT NULL", [d0, d1]
    ).fetchnumpy()[column]


def test_scoring_log_carries_the_documented_ground_truth(demo_settings):
    manifest = demo.read_manifest(demo_settings.home)
    assert manifest is not None  # the demo wrote its manifest
    start = __import__("datetime").date.fromisoformat(manifest["start_date"])
    con = _con(demo_settings)
    n, days, unlabeled_days = con.execute(
        "SELECT count(*), count(DISTINCT batch_date), count(DISTINCT batch_date) FILTER (WHERE label IS NULL) FROM log"
    ).fetchone()
    assert (n, days, unlabeled_days) == (demo.DAYS * demo.ROWS_PER_DAY, demo.DAYS, demo.LABEL_DELAY_DAYS)
    # numeric shift from day 60, nothing before
    ref = _window(con, 0, 29, start, "monthly_charges")
    before = _window(con, 50, 59, start, "monthly_charges")
    after = _window(con, 60, 69, start, "monthly_charges")
    assert stats.ks_2samp(ref, before).pvalue > 0.01
    assert stats.ks_2samp(ref, after).pvalue < 1e-10
    # the new category appears from day 70 only
    new_before = con.execute(
        "SELECT count(*) FROM log WHERE payment_method='crypto_wallet' AND batch_date < ?", [demo.day_date(start, 70)]
    ).fetchone()[0]
    new_after = con.execute(
        "SELECT count(*) FROM log WHERE payment_method='crypto_wallet' AND batch_date >= ?", [demo.day_date(start, 70)]
    ).fetchone()[0]
    assert new_before == 0 and new_after > 1000
    # region has missing values, evenly over time
    share = con.execute("SELECT avg((region IS NULL)::INT) FROM log").fetchone()[0]
    assert 0.01 < share < 0.03


def test_seeding_is_idempotent_and_detects_half_seeded(demo_copy):
    """On a copy of the seeded workspace (the shared one was seeded by ``ensure_demo`` too)."""
    settings = demo_copy
    first = demo.ensure_demo(settings)
    assert demo.ensure_demo(settings)["seeded_at"] == first["seeded_at"]  # no second seeding
    (settings.home / ".seeded.json").unlink()  # as if interrupted before the marker
    again = demo.ensure_demo(settings)
    assert again["seeded_at"] >= first["seeded_at"] and again["seconds"] > 0
    client = make_client(settings)
    assert len(client.search_model_versions(f"name='{demo.MODEL_NAME}'")) == 3  # redone, not doubled


def test_cli_demo_refuses_configured_server_and_help_lists_commands(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DRIFTGATE_HOME": str(tmp_path / "h"), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    out = run_cli(["demo"], env=env, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "never written" in out.stderr
    assert not (tmp_path / "h" / "mlflow.db").exists()
    out = run_cli(["--help"], timeout=60)
    assert out.returncode == 0 and "demo" in out.stdout
    out = run_cli(["nosuchcommand"], timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and out.stdout == ""


def test_ground_truth_dates(demo_settings):
    gt = demo.ground_truth(demo_settings.home)
    start = __import__("datetime").date.fromisoformat(gt["start_date"])
    assert gt["drifted_features"]["payment_method"]["from_date"] == demo.day_date(start, 70).isoformat()
    assert set(gt["drifted_features"]) == {"monthly_charges", "contract", "payment_method"}
    assert demo_settings.model(demo.MODEL_NAME)["reference_window"] == gt["reference_window"]
    json.dumps(gt)


def test_label_and_prediction_drift_only_after_the_shift(demo_settings):
    """The documented label drift (from day 60) is found by the drift engine, and not before."""
    from services.drift.model import model_drift_report
    from services.warehouse.sources import Window

    manifest = demo.read_manifest(demo_settings.home)
    assert manifest is not None  # the demo wrote its manifest
    start = __import__("datetime").date.fromisoformat(manifest["start_date"])
    after = model_drift_report(demo_settings, demo.MODEL_NAME, targets=True)
    assert {f["feature"]: f["drifted"] for f in after["features"]} == {"prediction": True, "label": True}
    before = model_drift_report(
        demo_settings,
        demo.MODEL_NAME,
        targets=True,
        current=Window(timestamp=demo.TIMESTAMP, start=demo.day_date(start, 50), end=demo.day_date(start, 56)),
    )
    assert {f["feature"]: f["drifted"] for f in before["features"]} == {"prediction": False, "label": False}
