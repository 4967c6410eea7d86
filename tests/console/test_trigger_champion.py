"""After a champion change the trigger measures the new champion against its own reference and
holds no window from before its promotion against it (defect 6); the Overview's panel says so."""

from __future__ import annotations

from services.demo import seed as demo
from services.promotion.approvals import approve
from services.retraining import trigger
from tests.support.app import app_test, assert_no_exception
from tests.support.demo import settings_with


def test_promotion_resets_the_evidence(demo_copy, monkeypatch):
    before = trigger.evaluate(demo_copy, demo.MODEL_NAME)
    assert before.retrain is True  # the fresh demo: retraining due (spec)
    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(s, demo.MODEL_NAME, "2", "dave")
    after = trigger.evaluate(demo_copy, demo.MODEL_NAME)
    assert after.retrain is False, after.reasons
    assert after.streak == 0
    text = " ".join(after.reasons)
    assert "champion changed: v2 is champion since" in text
    assert "not held against it" in text
    assert after.reference_source == "champion v2"
    assert "champion v2's training window" in text
    assert not any(w.breach for w in after.windows)

    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    at = app_test("app.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(at)
    shown = " ".join(
        m.value for m in list(at.markdown) + list(at.info) + list(at.success) + list(at.warning) + list(at.caption)
    ).replace("\\", "")
    assert "champion changed: v2 is champion since" in shown
    assert "Retraining is due" not in shown


def _shown(at) -> str:
    return " ".join(
        m.value for m in list(at.markdown) + list(at.info) + list(at.success) + list(at.warning) + list(at.caption)
    ).replace("\\", "")


def test_pages_drop_what_they_cached_against_the_old_champion(demo_copy, monkeypatch):
    # A promotion made elsewhere (the CLI, another reviewer) within the caches' TTL: the Overview's
    # trigger follows the new champion at once (browser QA found it still "due" minutes later).
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    params = {"model": demo.MODEL_NAME}
    overview = app_test("app.py", params).run()
    assert_no_exception(overview)
    assert "Retraining is due" in _shown(overview)

    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(s, demo.MODEL_NAME, "2", "dave")

    overview = app_test("app.py", params).run()
    assert_no_exception(overview)
    shown = _shown(overview)
    assert "Retraining is due" not in shown
    assert "champion changed: v2 is champion since" in shown


def test_a_rollback_resumes_the_evidence_against_the_restored_champion(demo_copy):
    """Browser QA: approve v2, roll back to v1, and the trigger said "no breach" — v1's own 28
    breached windows were dropped as if v1 had just been promoted. A rollback resumes v1's period:
    the windows measured against v1's reference still count."""
    from services.promotion.approvals import rollback

    before = trigger.evaluate(demo_copy, demo.MODEL_NAME)
    assert before.retrain is True and before.streak > 3
    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(s, demo.MODEL_NAME, "2", "dave")
    rollback(s, demo.MODEL_NAME, "dave", "v2 misbehaves")
    after = trigger.evaluate(demo_copy, demo.MODEL_NAME)
    assert after.retrain is True, after.reasons
    assert after.streak == before.streak
    assert [w.breach for w in after.windows] == [w.breach for w in before.windows]


def test_windows_before_a_promotion_are_drawn_as_not_counted(demo_copy):
    """QA: after a champion change, days at drift share 0.50 (≥ 0.5) were green and the legend said
    "below threshold". Those windows are not evidence against the new champion: their own colour
    and legend entry, in both panels."""
    from components.trigger_panel import BEFORE_PROMOTION, CALM, NOT_COUNTED, breach_timeline_figure

    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(s, demo.MODEL_NAME, "2", "dave")
    doc = trigger.evaluate(demo_copy, demo.MODEL_NAME).to_dict()
    held = [w for w in doc["windows"] if w["counted"] is False and w["rows"]]
    assert held and all(not w["breach"] for w in held)
    fig = breach_timeline_figure(doc)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name[NOT_COUNTED].x) == [w["start"][:10] for w in held]
    assert by_name[NOT_COUNTED].marker.color == BEFORE_PROMOTION
    calm = by_name.get("drift share below threshold")
    threshold = doc["policy"]["drift_share_threshold"]
    assert calm is None or all(y < threshold for y in calm.y)  # green only means below the threshold
    perf = by_name["roc_auc"]
    colours = list(perf.marker.color)
    assert all(c == BEFORE_PROMOTION for c, w in zip(colours, doc["windows"]) if w["counted"] is False)
    assert CALM != BEFORE_PROMOTION
