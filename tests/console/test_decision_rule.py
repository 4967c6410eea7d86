"""The trigger panel explains its decision rule in plain words with the policy's own numbers."""

from __future__ import annotations

from components.trigger_panel import decision_rule_text
from services.demo import seed as demo
from tests.support.app import app_test, assert_no_exception

POLICY = {
    "drift_share_threshold": 0.4,
    "performance_drop_threshold": 0.03,
    "consecutive_windows": 2,
    "cooldown_days": 5.0,
    "window": "weekly",
    "min_rows": 50,
    "min_labels": 40,
    "schedule_days": None,
    "reference_performance": None,
}


def _rendered(doc: dict) -> str:
    return decision_rule_text(doc).replace("\\", "")  # markdown shows roc\_auc as roc_auc


def test_rule_names_breach_window_rule_and_cooldown_with_the_policy_numbers():
    text = _rendered({"metric": "roc_auc", "policy": POLICY})
    assert "one window per week" in text
    assert "at least 40% of the features drifted" in text
    assert "roc_auc fell by 0.03 or more" in text
    assert "after 2 breached windows in a row" in text
    assert "under 50" in text and "under 40" in text
    assert "for 5 days after a retraining run" in text
    assert "Schedule" not in text


def test_rule_with_a_fixed_reference_and_a_schedule():
    policy = {**POLICY, "window": "daily", "consecutive_windows": 1, "reference_performance": 0.8, "schedule_days": 30}
    text = _rendered({"metric": "accuracy", "policy": policy})
    assert "one window per day" in text and "after 1 breached window in a row" in text
    assert "below the fixed reference 0.800" in text
    assert "30 days after the last retraining run" in text


def test_the_panel_shows_the_rule_on_the_drift_page(demo_home, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_home))
    at = app_test("pages/drift.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(at)
    shown = [m.value for m in at.markdown if "How the decision is made" in m.value]
    assert len(shown) == 1
    assert "breach" in shown[0] and "in a row" in shown[0] and "Cool-down" in shown[0]
