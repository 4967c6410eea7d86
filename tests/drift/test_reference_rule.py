"""One reference rule for the drift report and the retraining trigger: after v2 is approved, the
Drift page, the Overview's verdict and the trigger all measure against v2's training window
(browser QA: the Drift page still showed v1's window and "3 of 6 features drifted" while the
trigger beside it said "No retraining" against v2's); ``[trigger] reference = "config"`` pins
both to the configured ``reference_window``."""

from __future__ import annotations

import datetime as dt

from services.config import ReferenceWindow
from services.demo import seed as demo
from services.drift import drift_over_time, model_drift_report, performance_over_time
from services.drift.window_store import profile_model
from services.overview import drift_verdict
from services.promotion.approvals import approve
from services.registry import tags
from services.registry.mlflow_client import make_client
from services.retraining import trigger
from tests.support.app import app_test, assert_no_exception
from tests.support.demo import settings_with

APPROVERS = '[roles]\napprovers = ["dave"]\n'


def _approve_v2(home, extra: str = ""):
    s = settings_with(home, APPROVERS + extra)
    approve(s, demo.MODEL_NAME, "2", "dave")
    return s


def _training_window(client, version: str) -> tags.TrainingWindow:
    run = client.get_run(client.get_model_version(demo.MODEL_NAME, version).run_id)
    window = tags.training_window(run.data.tags)
    assert window is not None, f"v{version} logged no {tags.TRAINING_WINDOW}"
    return window


def _named(start: dt.date, end: dt.date) -> str:
    return f"{start.isoformat()} to {end.isoformat()}"


def test_after_approving_v2_the_report_and_the_trigger_use_its_training_window(demo_copy):
    s = _approve_v2(demo_copy.home)
    client = make_client(s)
    v2 = _training_window(client, "2")
    configured = s.require_model(demo.MODEL_NAME, "test").reference
    assert (v2.start, v2.end) != (configured.start, configured.end)  # else the test proves nothing

    report = model_drift_report(s, demo.MODEL_NAME, client=client)
    assert report["reference"]["window"] == _named(v2.start, v2.end)
    decision = trigger.evaluate(s, demo.MODEL_NAME, client=client)
    assert decision.reference_window == ReferenceWindow(v2.start, v2.end).bounds
    assert decision.reference_source == "champion v2"
    verdict = drift_verdict(s, client, demo.MODEL_NAME)
    assert verdict is not None and verdict["reference"] == _named(v2.start, v2.end)
    assert verdict["drift_share"] == report["dataset"]["drift_share"]


def test_reference_config_pins_the_report_and_the_trigger_to_the_configured_window(demo_copy):
    s = _approve_v2(demo_copy.home, '[trigger]\nreference = "config"\n')
    client = make_client(s)
    configured = s.require_model(demo.MODEL_NAME, "test").reference
    assert configured.start is not None and configured.end is not None

    report = model_drift_report(s, demo.MODEL_NAME, client=client)
    assert report["reference"]["window"] == _named(configured.start, configured.end)
    decision = trigger.evaluate(s, demo.MODEL_NAME, client=client)
    assert decision.reference_window == configured.bounds
    assert decision.reference_source == "config"


def _shown(at) -> str:
    return " ".join(m.value for m in list(at.caption) + list(at.markdown) + list(at.success) + list(at.warning))


def test_drift_page_after_approving_v2_shows_its_window_and_says_why(demo_copy, monkeypatch):
    s = _approve_v2(demo_copy.home)
    v2 = _training_window(make_client(s), "2")
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    at = app_test("pages/drift.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(at)
    shown = _shown(at).replace("\\", "")
    assert f"Reference **{_named(v2.start, v2.end)}**" in shown
    assert "here v2's training window" in shown
    assert "the configured `reference_window`" not in shown
    # the performance section's reference is the same window's ROC AUC
    v2_auc = performance_over_time(s, demo.MODEL_NAME, reference=ReferenceWindow(v2.start, v2.end))["reference"]
    v1_auc = performance_over_time(s, demo.MODEL_NAME)["reference"]
    assert round(v2_auc["roc_auc"], 3) != round(v1_auc["roc_auc"], 3)
    assert f"vs reference {v2_auc['roc_auc']:.3f}" in shown
    decision = trigger.evaluate(demo_copy, demo.MODEL_NAME)
    assert decision.reference_window == ReferenceWindow(v2.start, v2.end).bounds


def test_drift_page_before_any_promotion_names_the_configured_window(demo_copy, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    at = app_test("pages/drift.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(at)
    shown = _shown(at).replace("\\", "")
    assert "here the configured `reference_window` (= v1's training window)" in shown


def test_profile_job_stores_the_days_against_the_reference_the_page_and_trigger_read(demo_copy):
    s = _approve_v2(demo_copy.home)
    client = make_client(s)
    v2 = _training_window(client, "2")
    doc = profile_model(s, demo.MODEL_NAME, client=client)
    assert "reference: v2's training window" in doc["notes"]
    assert doc["reference"]["window"] == _named(v2.start, v2.end)
    over = drift_over_time(s, demo.MODEL_NAME, unit="day", reference=ReferenceWindow(v2.start, v2.end))
    assert over["store"]["profiled"] == []  # every closed day read from the store
    assert over["store"]["invalidated"] == 0
