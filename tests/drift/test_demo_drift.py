"""The demo's injected ground truth is found exactly: no misses, no false alarms."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.demo import seed as demo
from services.drift import drift_over_time, drift_report, model_drift_report, performance_over_time
from services.warehouse.sources import Source, Window


def _drifted(report):
    return sorted(f["feature"] for f in report["features"] if f["drifted"])


def test_reference_vs_last_week_flags_exactly_the_injected_features(demo_settings):
    gt = demo.ground_truth(demo_settings.home)
    expected = sorted(gt["drifted_features"])
    assert expected == ["contract", "monthly_charges", "payment_method"]
    report = model_drift_report(demo_settings, demo.MODEL_NAME)
    assert report["reference"]["rows"] == 30 * demo.ROWS_PER_DAY
    assert report["current"]["rows"] == 7 * demo.ROWS_PER_DAY
    assert [f["feature"] for f in report["features"]] == demo.FEATURES
    assert _drifted(report) == expected
    assert report["dataset"]["drifted"] is True and report["dataset"]["drift_share"] == 0.5
    pay = next(f for f in report["features"] if f["feature"] == "payment_method")
    assert pay["summary"]["current"]["unseen_categories"] == ["crypto_wallet"]
    region = next(f for f in report["features"] if f["feature"] == "region")
    assert 0.005 < region["summary"]["reference"]["missing_share"] < 0.04


def test_memory_engine_on_the_delta_log_agrees(demo_settings):
    gt = demo.ground_truth(demo_settings.home)
    path = str(demo.scoring_log_path(demo_settings))
    ref_w = Window(
        "event_time",
        start=date.fromisoformat(gt["reference_window"]["start"]),
        end=date.fromisoformat(gt["reference_window"]["end"]),
    )
    exact = drift_report(
        Source("delta", path),
        Source("delta", path),
        engine="memory",
        columns=demo.FEATURES,
        reference_window=ref_w,
        current_window=Window("event_time", days=7),
        numerical=demo.NUMERIC_FEATURES,
        categorical=demo.CATEGORICAL_FEATURES,
    )
    assert exact["approximate"] is False
    assert _drifted(exact) == sorted(gt["drifted_features"])


def test_drift_over_time_starts_on_the_injected_days(demo_settings):
    gt = demo.ground_truth(demo_settings.home)
    start = date.fromisoformat(gt["start_date"])
    doc = drift_over_time(demo_settings, demo.MODEL_NAME, unit="day")
    by_day = {date.fromisoformat(w["start"]): w for w in doc["windows"]}
    assert len(by_day) == demo.DAYS
    for d in range(demo.DAYS):
        flagged = set(by_day[start + timedelta(days=d)]["drifted_features"])
        assert not flagged & {"tenure_months", "support_calls", "region"}, d
        assert ("monthly_charges" in flagged) == (d >= demo.SHIFT_DAY), d
        assert ("payment_method" in flagged) == (d >= demo.NEW_CATEGORY_DAY), d
    weekly = drift_over_time(demo_settings, demo.MODEL_NAME, unit="week")
    assert 12 <= len(weekly["windows"]) <= 14


def test_label_prediction_and_concept_drift(demo_settings):
    targets = model_drift_report(demo_settings, demo.MODEL_NAME, targets=True)
    assert [f["feature"] for f in targets["features"]] == [demo.PREDICTION, demo.LABEL]
    assert next(f for f in targets["features"] if f["feature"] == demo.PREDICTION)["drifted"] is True
    perf = performance_over_time(demo_settings, demo.MODEL_NAME, unit="week")
    ref_auc = perf["reference"]["roc_auc"]
    assert 0.6 < ref_auc < 0.95
    aucs = [w["roc_auc"] for w in perf["windows"] if w["roc_auc"] is not None]
    assert max(aucs[:8]) > ref_auc - 0.05  # before the concept drift: as good as the reference
    assert aucs[-1] < ref_auc - 0.1  # after: clearly worse
    # delayed labels: the last days have no labels at all
    daily = performance_over_time(demo_settings, demo.MODEL_NAME, unit="day")
    assert len(daily["windows"]) == demo.DAYS - demo.LABEL_DELAY_DAYS


def test_binned_auc_matches_sklearn(demo_settings):
    import duckdb
    from sklearn.metrics import roc_auc_score

    from services.drift.performance import _perf

    path = str(demo.scoring_log_path(demo_settings))
    from deltalake import DeltaTable

    con = duckdb.connect()
    con.register("log", DeltaTable(path).to_pyarrow_dataset())
    y, s = con.execute("SELECT label::DOUBLE, prediction FROM log WHERE label IS NOT NULL").fetchnumpy().values()
    buckets = con.execute(
        "SELECT floor(prediction*1000) b, sum(label::DOUBLE), count(label), "
        "sum(CASE WHEN (prediction >= 0.5) = (label = 1) THEN 1 ELSE 0 END) "
        "FROM log WHERE label IS NOT NULL GROUP BY 1"
    ).fetchall()
    got = _perf(buckets)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=0.002)
    assert got["accuracy"] == pytest.approx(((s >= 0.5) == (y == 1)).mean())


def test_reference_defaults_to_the_champions_training_window(demo_settings):
    from services.drift.reference_window import champion_run
    from services.registry.mlflow_client import make_client

    client = make_client(demo_settings)
    gt = demo.ground_truth(demo_settings.home)
    champ = champion_run(demo_settings, client, demo.MODEL_NAME)
    assert champ is not None
    window = champ.window
    assert (window.start.isoformat(), window.end.isoformat()) == (
        gt["reference_window"]["start"],
        gt["reference_window"]["end"],
    )
    report = model_drift_report(demo_settings, demo.MODEL_NAME, client=client)
    assert report["dataset"]["weighted_drift_share"] is not None  # champion's logged importances
    assert 0.0 < report["dataset"]["weighted_drift_share"] < 1.0
