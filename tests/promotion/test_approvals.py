"""The demo story on a real MLflow store, in both lifecycle modes."""

from __future__ import annotations

import pytest

from services.errors import BadInput, NotFound, Refused
from services.promotion import audit
from services.promotion.approvals import approve, reject, request_review, rollback
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from services.registry.tags import DECISION as TAG_DECISION
from services.registry.tags import DECISION_COMMENT as TAG_DECISION_COMMENT
from services.registry.tags import champion_since
from tests.support.demo import MODEL, settings_with
from tests.support.registry import registry_view


def states(settings, client) -> dict[str, str]:
    return {v.version: v.state for v in make_lifecycle(settings, client, MODEL).versions()}


def test_demo_story(workspace):
    settings, client = workspace
    lc = make_lifecycle(settings, client, MODEL)
    assert states(settings, client) == {"1": "champion", "2": "candidate", "3": "candidate"}
    untouched = registry_view(settings, client)

    # bob authored v2: four-eyes stops him although he holds the approver role
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, MODEL, "2", "bob", client=client)
    # carol is a viewer
    with pytest.raises(Refused, match="approver role"):
        approve(settings, MODEL, "2", "carol", client=client)
    # nobody can approve v3: the gate fails
    with pytest.raises(Refused, match="gate failed.*signature_compatible"):
        approve(settings, MODEL, "3", "alice", client=client)
    assert registry_view(settings, client) == untouched  # refusals change nothing

    rec = approve(settings, MODEL, "2", "alice", comment="beats v1 on the recent window", client=client)
    assert rec["outcome"] == "done" and rec["version_before"] == "1" and rec["version_after"] == "2"
    assert states(settings, client) == {"1": "previous", "2": "champion", "3": "candidate"}
    assert lc.champion_count() == 1
    v1 = lc.get_version("1")
    assert (v1.stage == "Archived") if settings.lifecycle == "stages" else (v1.aliases == ("previous",))
    assert lc.get_version("2").tags[TAG_DECISION] == "approved"

    # a second approval of the same version is refused (already champion)
    with pytest.raises(Refused):
        approve(settings, MODEL, "2", "alice", client=client)

    rb = rollback(settings, MODEL, "alice", "v2 misbehaves in production", client=client)
    assert rb["version_before"] == "2" and rb["version_after"] == "1"
    assert states(settings, client)["1"] == "champion"
    assert states(settings, client)["2"] == "archived"
    assert lc.champion_count() == 1
    with pytest.raises(Refused, match="no previous champion"):
        rollback(settings, MODEL, "alice", "again", client=client)

    story = [(r["user"], r["action"], r["outcome"], r["version"]) for r in audit.query(settings, model=MODEL)]
    assert story == [
        ("bob", "approve", "refused", "2"),
        ("carol", "approve", "refused", "2"),
        ("alice", "approve", "refused", "3"),
        ("alice", "approve", "done", "2"),
        ("alice", "approve", "refused", "2"),
        ("alice", "rollback", "done", "1"),
        ("alice", "rollback", "refused", None),
    ]
    gate_rec = audit.query(settings, model=MODEL)[3]
    assert gate_rec["evidence"]["passed"] is True
    assert {c["name"] for c in gate_rec["evidence"]["checks"]} >= {"beats_champion", "signature_compatible"}


def test_reject_rules(aliases_ws):
    settings, client = aliases_ws
    with pytest.raises(BadInput, match="comment is required"):
        reject(settings, MODEL, "3", "bob", "   ", client=client)
    with pytest.raises(Refused, match="neither an approver nor"):
        reject(settings, MODEL, "3", "carol", "no", client=client)
    with pytest.raises(Refused, match="champion"):
        reject(settings, MODEL, "1", "alice", "no", client=client)
    html = "<script>alert(1)</script> <b>worse</b> & signature changed"
    rec = reject(settings, MODEL, "3", "bob", html, client=client)  # the author may reject his own
    assert rec["outcome"] == "done"
    v3 = make_lifecycle(settings, client, MODEL).get_version("3")
    assert v3.state == "rejected" and v3.tags[TAG_DECISION_COMMENT] == html  # stored verbatim, as text
    with pytest.raises(Refused, match="already rejected"):
        reject(settings, MODEL, "3", "alice", "twice", client=client)
    with pytest.raises(Refused, match="rejected"):
        approve(settings, MODEL, "3", "alice", client=client)
    # usage errors are not audited; refusals are
    outcomes = [(r["user"], r["outcome"]) for r in audit.query(settings, model=MODEL)]
    assert outcomes == [
        ("carol", "refused"),
        ("alice", "refused"),
        ("bob", "done"),
        ("alice", "refused"),
        ("alice", "refused"),
    ]


def test_comment_limits_and_usage_errors(aliases_ws):
    settings, client = aliases_ws
    before = registry_view(settings, client)
    with pytest.raises(BadInput, match="max 5000"):
        approve(settings, MODEL, "2", "alice", comment="x" * 100_000, client=client)
    with pytest.raises(BadInput, match="user is required"):
        approve(settings, MODEL, "2", "", client=client)
    with pytest.raises(NotFound):
        approve(settings, MODEL, "99", "alice", client=client)
    with pytest.raises(NotFound):
        approve(settings, "no_such_model", "1", "alice", client=client)
    with pytest.raises(BadInput):
        approve(settings, MODEL, "two", "alice", client=client)
    with pytest.raises(BadInput, match="comment is required"):
        rollback(settings, MODEL, "alice", None, client=client)
    assert registry_view(settings, client) == before
    assert audit.query(settings) == []


def test_stale_state_is_refused(aliases_ws):
    settings, client = aliases_ws
    # the page showed "no champion" / another champion: refuse, change nothing
    before = registry_view(settings, client)
    with pytest.raises(Refused, match="stale state"):
        approve(settings, MODEL, "2", "alice", expected_champion="3", client=client)
    assert registry_view(settings, client) == before
    approve(settings, MODEL, "2", "alice", expected_champion="1", client=client)
    # a page rendered before that approval still shows v1 as champion
    with pytest.raises(Refused, match="stale state"):
        rollback(settings, MODEL, "alice", "oops", expected_champion="1", client=client)
    assert audit.query(settings)[-1]["outcome"] == "refused"


def test_champion_changing_during_gate_evaluation_is_stale_state(demo_copy, monkeypatch):
    """The window a CI race run hit: the state read says v1, another approval lands before the gate
    is evaluated. The loser must hear "stale state — reload", not a gate failure, and change nothing."""
    import services.promotion.approvals as approvals
    from services.promotion import gate

    settings = settings_with(demo_copy.home, '[roles]\napprovers = ["alice", "dave"]\n')
    client = make_client(settings)
    real_evaluate = gate.evaluate  # what approvals calls as ``evaluate``
    calls: list[int] = []

    def racing_evaluate(*args, **kwargs):
        if not calls:  # the first evaluation belongs to "dave"; "alice" wins in between
            calls.append(1)
            approve(settings, MODEL, "2", "alice", expected_champion="1", client=client)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(approvals, "evaluate", racing_evaluate)
    with pytest.raises(Refused, match="stale state — reload: the champion is now version 2, not 1"):
        approve(settings, MODEL, "2", "dave", expected_champion="1", client=client)
    assert make_lifecycle(settings, client, MODEL).state().champion == "2"
    assert make_lifecycle(settings, client, MODEL).champion_count() == 1
    outcomes = [(r["user"], r["outcome"]) for r in audit.query(settings, model=MODEL, action="approve")]
    assert outcomes == [("alice", "done"), ("dave", "refused")]


def test_two_approvals_required(demo_copy):
    settings = settings_with(
        demo_copy.home, '[roles]\napprovers = ["alice", "bob", "dave"]\n[gate]\napprovals_required = 2\n'
    )
    client = make_client(settings)
    first = approve(settings, MODEL, "2", "alice", client=client)
    assert first["outcome"] == "done" and "1 of 2" in first["reason"]
    assert make_lifecycle(settings, client, MODEL).state().champion == "1"
    again = approve(settings, MODEL, "2", "alice", client=client)  # the same person twice counts once
    assert "1 of 2" in again["reason"]
    done = approve(settings, MODEL, "2", "dave", client=client)
    assert done["version_after"] == "2"
    assert make_lifecycle(settings, client, MODEL).state().champion == "2"


def test_request_review(aliases_ws):
    settings, client = aliases_ws
    rec = request_review(settings, MODEL, "2", "bob", "please review", client=client)
    assert rec["action"] == "request" and rec["outcome"] == "done"
    with pytest.raises(Refused):
        request_review(settings, MODEL, "2", "carol", client=client)


def test_uc_approval_tag_and_decision_tags(demo_copy):
    settings = settings_with(demo_copy.home, '[gate]\napproval_tag = "Approval_Check"\n')
    client = make_client(settings)
    approve(settings, MODEL, "2", "alice", comment="ok", client=client)
    tags = make_lifecycle(settings, client, MODEL).get_version("2").tags
    assert tags["Approval_Check"] == "Approved"
    assert (tags["driftgate.decision"], tags["driftgate.decision_by"]) == ("approved", "alice")
    # champion since the approval (its decision time: no separate tag write)
    assert tags["driftgate.decision_comment"] == "ok" and champion_since(tags) == tags["driftgate.decision_at"]
    since = champion_since(tags)
    assert since is not None and since.endswith("Z")
    old = make_lifecycle(settings, client, MODEL).get_version("1")
    assert old.tags["driftgate.replaced_by"] == "2" and old.state == "previous"
