"""AppTest of the Promotions page: checklist, Approve enabled/disabled with reasons, the confirm
dialog flow (before -> after), reject with a required comment, rollback, audit log, history."""

from __future__ import annotations

import pytest

from components.promotion_history import champion_timeline
from services.promotion import audit
from services.promotion.audit import champion_history
from services.registry.lifecycle import VersionView, make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.app import app_test, assert_no_exception

MODEL = "churn_classifier"


def _page(persona: str, version: str | None = None):
    at = app_test("pages/promotions.py", {"model": MODEL, **({"version": version} if version else {})})
    at.session_state["dg_persona"] = persona
    at.run()
    assert_no_exception(at)
    return at


def test_alice_approves_through_the_dialog(demo_copy):
    at = _page("alice")
    assert at.query_params["version"] == ["2"] or at.query_params["version"] == "2"
    approve = at.button(key="dg_approve")
    assert not approve.disabled
    assert any("Gate passes for v2" in s.value for s in at.success)
    # the registry caption names what is there in words, never a dangling "v-"
    assert any("champion: **v1** · rollback target: **none**" in c.value for c in at.caption)
    approve.click().run()
    assert_no_exception(at)
    texts = [t.value for t in at.text]
    # the dialog lists the writes of the very plan the transition runs
    i = texts.index("champion: v1 → v2")
    assert texts[i : i + 4] == [
        "champion: v1 → v2",
        "alias previous -> v1",
        "alias champion -> v2",
        "stage v2 -> Production",
    ]
    client = make_client(demo_copy)
    assert make_lifecycle(demo_copy, client, MODEL).state().champion == "1"  # nothing before confirming
    at.text_area(key="dg_approve_comment").input("<script>alert('x')</script> looks good")
    at.button(key="dg_approve_confirm").click().run()
    assert_no_exception(at)
    assert any("version 2 promoted" in s.value for s in at.success)
    assert make_lifecycle(demo_copy, client, MODEL).state().champion == "2"
    assert any("champion: **v2** · rollback target: **v1**" in c.value for c in at.caption)
    assert at.button(key="dg_approve").disabled
    rec = audit.query(demo_copy, model=MODEL)[-1]
    assert (rec["user"], rec["identity"], rec["action"], rec["outcome"]) == ("alice", "persona", "approve", "done")
    assert rec["comment"] == "<script>alert('x')</script> looks good"
    # the audit log lists it; the champion history has two periods now
    assert any("version 2 promoted" in str(df.value.to_dict()) for df in at.dataframe)
    log = next(df.value for df in at.dataframe if "identity" in df.value.columns)
    assert log.iloc[0][["user", "identity", "action"]].tolist() == ["alice", "persona", "approve"]
    assert len(at.get("plotly_chart")) == 1

    # roll back: dialog, comment required
    at.button(key="dg_rollback").click().run()
    at.button(key="dg_rollback_confirm").click().run()
    assert any("comment is required" in e.value for e in at.error)
    assert make_lifecycle(demo_copy, client, MODEL).state().champion == "2"
    at.text_area(key="dg_rollback_comment").input("regression in production")
    at.button(key="dg_rollback_confirm").click().run()
    assert_no_exception(at)
    assert make_lifecycle(demo_copy, client, MODEL).state().champion == "1"


@pytest.mark.parametrize(
    "persona,version,reason",
    [
        ("carol", "2", "does not hold the approver role"),
        ("bob", "2", "four-eyes"),
        ("alice", "3", "the gate fails"),
    ],
)
def test_approve_disabled_with_reason(demo_copy, persona, version, reason):
    at = _page(persona, version)
    assert at.button(key="dg_approve").disabled
    # captions are markdown source: user/MLflow text in them is escaped (components.text.md)
    assert any(reason in c.value.replace("\\", "") for c in at.caption), [c.value for c in at.caption]


def test_stale_page_is_refused(demo_copy):
    at = _page("alice")
    at.button(key="dg_approve").click().run()
    # meanwhile someone else promotes v2 in another process/replica
    from services.promotion.approvals import approve
    from tests.support.demo import settings_with

    other = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(other, MODEL, "2", "dave")
    at.button(key="dg_approve_confirm").click().run()
    assert_no_exception(at)
    assert any("stale state" in e.value for e in at.error)
    assert audit.query(demo_copy, model=MODEL)[-1]["outcome"] == "refused"


def test_reject_requires_comment(demo_copy):
    at = _page("bob", "3")
    at.button(key="FormSubmitter:dg_reject_form-Reject").click().run()
    assert any("comment is required" in e.value for e in at.error)
    at.text_area[0].input("signature dropped payment_method")
    at.button(key="FormSubmitter:dg_reject_form-Reject").click().run()
    assert_no_exception(at)
    assert make_lifecycle(demo_copy, make_client(demo_copy), MODEL).get_version("3").state == "rejected"


def _view(v, state, created, since=None):
    tags = {"driftgate.champion_since": since} if since else {}
    return VersionView("m", v, "None", (), state, None, None, tags, created_at=created)


def test_champion_history_and_figure():
    versions = [
        _view("1", "previous", "2026-01-01T00:00:00Z"),
        _view("2", "archived", "2026-02-01T00:00:00Z"),
        _view("3", "champion", "2026-03-01T00:00:00Z"),
    ]
    recs = [
        {
            "at": "2026-02-02T00:00:00Z",
            "action": "approve",
            "outcome": "done",
            "version_before": "1",
            "version_after": "2",
        },
        {
            "at": "2026-02-03T00:00:00Z",
            "action": "approve",
            "outcome": "refused",
            "version_before": "2",
            "version_after": "2",
        },
        {
            "at": "2026-02-05T00:00:00Z",
            "action": "rollback",
            "outcome": "done",
            "version_before": "2",
            "version_after": "1",
        },
        {
            "at": "2026-03-02T00:00:00Z",
            "action": "approve",
            "outcome": "done",
            "version_before": "1",
            "version_after": "3",
        },
    ]
    segs = champion_history(recs, versions, now="2026-04-01T00:00:00Z")
    assert [(s["version"], s["start"], s["end"], s["via"]) for s in segs] == [
        ("1", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z", "registry"),
        ("2", "2026-02-02T00:00:00Z", "2026-02-05T00:00:00Z", "approve"),
        ("1", "2026-02-05T00:00:00Z", "2026-03-02T00:00:00Z", "rollback"),
        ("3", "2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z", "approve"),
    ]
    fig = champion_timeline(segs)
    assert [t.name for t in fig.data] == ["champion (before DriftGate)", "promoted", "rolled back to"]
    assert list(fig.data[1].y) == ["v2", "v3"]
    assert fig.data[1].x[0] == 3 * 24 * 3600 * 1000  # v2 was champion for 3 days
    # no decisions yet: the current champion since its tag
    only = champion_history(
        [], [_view("1", "champion", "2026-01-01T00:00:00Z", since="2026-01-05T00:00:00Z")], "2026-02-01T00:00:00Z"
    )
    assert only == [{"version": "1", "start": "2026-01-05T00:00:00Z", "end": "2026-02-01T00:00:00Z", "via": "registry"}]
