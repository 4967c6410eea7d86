"""Issue 13 #1 (four-eyes from non-rewritable authorship), #8 (one identity normalisation for
roles, votes and four-eyes) and #10 (control characters in identities, escaped audit text)."""

from __future__ import annotations

import pytest

from services.cli import main
from services.errors import BadInput, Refused
from services.promotion import audit
from services.promotion.approvals import approve, reject, request_review
from services.promotion.roles import can_approve, identity_key, same_user
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.demo import MODEL, settings_with


def _retag(client, version: str, value: str) -> None:
    client.set_model_version_tag(MODEL, version, "driftgate.author", value)


def test_retagging_the_author_does_not_lift_four_eyes(demo_copy, capsys):
    settings = settings_with(demo_copy.home)
    client = make_client(settings)
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, MODEL, "2", "bob", client=client)
    _retag(client, "2", "carol")  # anyone with registry write access could
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, MODEL, "2", "bob", client=client)
    assert make_lifecycle(settings, client, MODEL).state().champion == "1"
    # `versions` names who MLflow recorded (the source run's user), not the rewritten tag
    assert main(["versions", "--model", MODEL]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("v   2")][0]
    assert line.endswith("by bob")


def test_retagged_before_driftgate_ever_saw_it_still_counts_the_run_author(demo_copy):
    settings = settings_with(demo_copy.home)
    client = make_client(settings)
    _retag(client, "3", "carol")
    view = make_lifecycle(settings, client, MODEL).get_version("3")
    assert same_user(view.created_by, "bob") and "carol" in view.authors
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, MODEL, "3", "bob", client=client)


def test_tags_add_co_authors_and_the_recorded_author_is_never_removed(demo_copy):
    settings = settings_with(demo_copy.home, '[roles]\napprovers = ["alice", "bob", "dave"]\n')
    client = make_client(settings)
    _retag(client, "2", "bob, dave")
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, MODEL, "2", "dave", client=client)
    assert {identity_key(a) for a in audit.recorded_authors(settings, MODEL, "2")} >= {"bob", "dave"}
    _retag(client, "2", "alice-bot")  # dave removed from the tag: he stays an author
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, MODEL, "2", "dave", client=client)
    assert approve(settings, MODEL, "2", "alice", client=client)["version_after"] == "2"


def test_version_authors_are_append_only(demo_copy):
    import sqlalchemy as sa

    settings = settings_with(demo_copy.home)
    audit.remember_authors(settings, MODEL, "2", ["bob"], "2026-01-01T00:00:00Z")
    with pytest.raises(sa.exc.DatabaseError), audit.engine(settings).begin() as conn:
        conn.execute(sa.text("DELETE FROM version_authors"))
    assert audit.recorded_authors(settings, MODEL, "2") == ["bob"]


@pytest.mark.parametrize("second", ["ALICE", " Alice ", "ａｌｉｃｅ"])
def test_one_person_in_another_spelling_is_one_vote(demo_copy, second):
    settings = settings_with(demo_copy.home, '[roles]\napprovers = ["alice", "dave"]\n[gate]\napprovals_required = 2\n')
    client = make_client(settings)
    assert "1 of 2" in approve(settings, MODEL, "2", "alice", client=client)["reason"]
    again = approve(settings, MODEL, "2", second, client=client)
    assert "1 of 2" in again["reason"] and again["version_after"] == "1"
    assert make_lifecycle(settings, client, MODEL).state().champion == "1"
    assert approve(settings, MODEL, "2", "dave", client=client)["version_after"] == "2"


def test_roles_and_four_eyes_use_the_same_normalisation(demo_copy):
    settings = settings_with(demo_copy.home, '[roles]\napprovers = ["ALICE", "bob"]\n')
    assert can_approve(settings, "ａｌｉｃｅ", "bob").allowed
    assert not can_approve(settings, "BOB", ["carol", "ｂｏｂ"]).allowed


@pytest.mark.parametrize(
    "user", ["eve\r\n2026-01-01T00:00:00Z  alice    approve  done", "eve\x00", "e\u200bve", "eve\x1b[2J"]
)
def test_control_characters_in_a_user_name_are_refused(demo_copy, user, capsys):
    settings = settings_with(demo_copy.home)
    client = make_client(settings)
    for call in (
        lambda: approve(settings, MODEL, "2", user, client=client),
        lambda: reject(settings, MODEL, "2", user, "no", client=client),
        lambda: request_review(settings, MODEL, "2", user, client=client),
    ):
        with pytest.raises(BadInput, match="control or invisible"):
            call()
    assert audit.query(settings) == []
    assert main(["approve", "--model", MODEL, "--version", "2", "--user", user]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_audit_text_escapes_control_characters(demo_copy, capsys):
    settings = settings_with(demo_copy.home)
    audit.append(
        settings,
        {
            "at": "2026-01-01T00:00:00Z",
            "user": "x\r\n2026  alice approve done",
            "action": "approve",
            "outcome": "refused",
            "model": MODEL,
            "version": "2",
            "reason": "bad\nline",
        },
    )
    assert main(["audit", "--model", MODEL]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\\r\\n" in out and "\\n" in out
