"""The trigger on the seeded demo: fires after the injected drift and not before, is explained,
honours the cool-down after the demo's retraining run (day 72) and stricter thresholds."""

from __future__ import annotations

import datetime as dt

import pytest
from sklearn.metrics import roc_auc_score

from services.demo import seed as demo
from services.registry.mlflow_client import make_client
from services.retraining import trigger

DRIFTED = set(demo.GROUND_TRUTH["drifted_features"])  # monthly_charges, contract, payment_method


@pytest.fixture(scope="module")
def client(demo_settings):
    return make_client(demo_settings)


@pytest.fixture(scope="module")
def fresh(demo_settings, client):
    return trigger.evaluate(demo_settings, demo.MODEL_NAME, client=client)


def test_fresh_demo_is_due_with_reasons(fresh, demo_settings):
    assert fresh.retrain is True
    assert fresh.cooldown_until is None
    text = " ".join(fresh.reasons)
    assert "consecutive daily windows" in text
    for f in DRIFTED:
        assert f in text
    assert "roc_auc dropped" in text
    # the demo's retraining run (day 72) was found and its cool-down has passed
    manifest = demo.read_manifest(demo_settings.home)
    assert manifest is not None  # the demo wrote its manifest
    assert fresh.last_retraining.run_id == manifest["parent_run_id"]
    assert "has passed" in text
    assert fresh.streak > fresh.policy.consecutive_windows


def test_windows_match_the_ground_truth(fresh, demo_start):
    for w in fresh.windows:
        d = (w.start.date() - demo_start).days
        assert w.rows == demo.ROWS_PER_DAY
        if d >= demo.NEW_CATEGORY_DAY:
            assert set(w.drifted_features) == DRIFTED and w.drift_breach
        elif d >= demo.SHIFT_DAY:
            assert set(w.drifted_features) == {"monthly_charges", "contract"} and not w.drift_breach
        else:
            assert w.drifted_features == []
        if d > demo.DAYS - 1 - demo.LABEL_DELAY_DAYS:  # delayed labels: no evidence, not a breach
            assert w.performance is None and w.labelled_rows == 0
            assert any("no labels yet" in n for n in w.notes)
        elif d >= demo.CONCEPT_DAY:
            assert w.performance_breach
        else:
            assert not w.performance_breach


def test_performance_per_window_matches_sklearn(fresh, demo_settings, demo_start):
    """The window's roc_auc (aggregated by the engine) equals sklearn's on the same rows."""
    import deltalake

    table = deltalake.DeltaTable(str(demo.scoring_log_path(demo_settings))).to_pyarrow_dataset()
    import pyarrow.compute as pc

    for w in (fresh.windows[0], fresh.windows[10], fresh.windows[-5]):
        rows = table.to_table(
            columns=["prediction", "label"], filter=pc.field("batch_date") == pc.scalar(w.start.date())
        ).to_pandas()
        rows = rows.dropna()
        expected = roc_auc_score(rows["label"].astype(int), rows["prediction"])
        assert w.performance == pytest.approx(expected, abs=2e-3)
    start, end = demo_settings.model_spec(demo.MODEL_NAME).reference.bounds
    assert start.date() == demo_start
    assert end.date() == demo_start + dt.timedelta(days=demo.REFERENCE_DAYS[1] + 1)


def test_not_before_the_injected_drift(demo_settings, client, day):
    d = trigger.evaluate(demo_settings, demo.MODEL_NAME, as_of=day(demo.SHIFT_DAY), client=client)
    assert d.retrain is False
    assert not any(w.breach for w in d.windows)
    assert d.last_retraining is None  # the day-72 run is in this as-of's future
    assert "no breach" in d.reasons[0]


def test_fires_once_the_breach_persisted_three_windows(demo_settings, client, day):
    # days 60-61: features drift (share 2/6 < 0.5), no performance drop yet -> not due
    d = trigger.evaluate(demo_settings, demo.MODEL_NAME, as_of=day(demo.CONCEPT_DAY + 2), client=client)
    assert d.retrain is False and d.streak == 2
    d = trigger.evaluate(demo_settings, demo.MODEL_NAME, as_of=day(demo.CONCEPT_DAY + 3), client=client)
    assert d.retrain is True and d.streak == 3


def test_cooldown_after_the_demo_retraining_run(demo_settings, client, day):
    d = trigger.evaluate(demo_settings, demo.MODEL_NAME, as_of=day(demo.RETRAIN_DAY + 2), client=client)
    assert d.retrain is False and d.drift_due is True
    assert d.cooldown_until is not None
    assert d.cooldown_until.date() == (day(demo.RETRAIN_DAY) + dt.timedelta(days=7)).date()
    assert "cool-down" in " ".join(d.reasons)


def test_stricter_thresholds_do_not_trigger(demo_settings, client):
    strict = trigger.TriggerPolicy(drift_share_threshold=0.8, performance_drop_threshold=0.3)
    d = trigger.evaluate(demo_settings, demo.MODEL_NAME, policy=strict, client=client)
    assert d.retrain is False
    assert not any(w.breach for w in d.windows)
    longer = trigger.TriggerPolicy(consecutive_windows=40, lookback_windows=60)
    d = trigger.evaluate(demo_settings, demo.MODEL_NAME, policy=longer, client=client)
    assert d.retrain is False and 3 < d.streak < 40
    assert f"{d.streak} daily window(s) only" in d.reasons[0]


def test_weekly_windows(demo_settings, client):
    d = trigger.evaluate(
        demo_settings,
        demo.MODEL_NAME,
        client=client,
        policy=trigger.TriggerPolicy(window="weekly", lookback_windows=8, consecutive_windows=2),
    )
    assert all(w.start.weekday() == 0 and w.end - w.start == dt.timedelta(days=7) for w in d.windows)
    assert d.retrain is True
    assert max(w.rows for w in d.windows) == 7 * demo.ROWS_PER_DAY


def test_after_a_promotion_the_champion_training_window_is_the_reference(demo_copy, demo_start):
    """Promoting v2 (trained on days 62-68) moves the reference: the drifted regime is the new
    normal, so the trigger does not loop back into retraining; `reference = "config"` opts out."""
    client = make_client(demo_copy)
    client.set_registered_model_alias(demo.MODEL_NAME, "champion", "2")
    d = trigger.evaluate(demo_copy, demo.MODEL_NAME, client=client)
    train = demo.TRAIN_DAYS
    start, end = d.reference_window
    assert start is not None and end is not None  # the champion logged its training window
    assert start.date() == demo_start + dt.timedelta(days=train[0])
    assert end.date() == demo_start + dt.timedelta(days=train[1] + 1)
    assert d.to_dict()["reference_window"]["source"] == "champion v2"
    manifest = demo.read_manifest(demo_copy.home)
    assert manifest is not None  # the demo wrote its manifest
    v2_auc = manifest["metrics"]["gbm_recent"]["roc_auc"]
    assert d.reference_performance == pytest.approx(v2_auc)
    assert not any(set(w.drifted_features) & {"monthly_charges", "contract"} for w in d.windows)
    assert d.retrain is False
    pinned = trigger.evaluate(
        demo_copy, demo.MODEL_NAME, client=client, policy=trigger.TriggerPolicy(reference="config")
    )
    assert pinned.retrain is True and pinned.to_dict()["reference_window"]["source"] == "config"
