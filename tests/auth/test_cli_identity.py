"""CLI identity against a real ``mlflow server --app-name basic-auth`` on 127.0.0.1.

The server authenticates the caller (``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``),
so the audited user is whoever it authenticated: a different ``--user`` is refused (exit 3,
audited under the authenticated user), a user without ``MANAGE`` on the registered model is
refused up front (exit 3, nothing changed). Without an authenticating server ``--user`` is
recorded as self-asserted.
"""

from __future__ import annotations

import json
import secrets
import uuid

import pytest
import requests

from services.cli import main
from services.config import load_settings
from services.promotion import audit
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support import minidemo

PASSWORDS = {name: secrets.token_urlsafe(18) for name in ("alice", "carol")}


@pytest.fixture(scope="module")
def users(basic_auth_server):
    uri, admin = basic_auth_server
    for name, password in PASSWORDS.items():
        r = requests.post(
            f"{uri}/api/2.0/mlflow/users/create",
            json={"username": name, "password": password},
            auth=("admin", admin),
            timeout=30,
        )
        assert r.status_code == 200, r.text
    return uri


@pytest.fixture(scope="module")
def registered(users, basic_auth_server, tmp_path_factory):
    """One demo-like registered model for the module (v1 champion, v2 bob's passing candidate,
    v3 a failing one); alice holds MANAGE on it, carol only the server's default READ."""
    uri, admin = basic_auth_server
    name = f"auth_{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        mp.setenv("MLFLOW_TRACKING_PASSWORD", admin)
        minidemo.build(tmp_path_factory.mktemp("auth-artifacts"), tracking_uri=uri, model=name)
    r = requests.post(
        f"{uri}/api/3.0/mlflow/users/permissions/grant",
        auth=("admin", admin),
        timeout=30,
        json={"username": "alice", "resource_type": "registered_model", "resource_id": name, "permission": "MANAGE"},
    )
    assert r.status_code == 200, r.text
    return uri, name


@pytest.fixture
def model(registered, tmp_path, monkeypatch):
    """Settings on the basic-auth server with a private audit store; DriftGate's config makes
    both alice and carol approvers, so only the server's permissions tell them apart."""
    uri, name = registered
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text(
        f'[mlflow]\ntracking_uri = "{uri}"\n'
        '[roles]\napprovers = ["alice", "carol"]\n[gate]\nguard_metrics = {brier = 0.01}\n'
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DRIFTGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(cfg))
    return load_settings(), name


def _registry(settings, name, monkeypatch, admin):
    """(champion, number of champions, v2's driftgate decision tags) as the admin sees them."""
    _as(monkeypatch, "admin", admin)
    client = make_client(settings)
    lc = make_lifecycle(settings, client, name)
    tags = {k: v for k, v in client.get_model_version(name, "2").tags.items() if k.startswith("driftgate.decision")}
    return lc.state().champion, lc.champion_count(), tags


def _as(monkeypatch, user: str, password: str | None = None) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password or PASSWORDS[user])


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rejected_credentials_are_one_line_without_the_password(model, basic_auth_server, monkeypatch, capsys):
    settings, name = model
    before = _registry(settings, name, monkeypatch, basic_auth_server[1])
    wrong = "not-" + PASSWORDS["alice"]
    _as(monkeypatch, "alice", wrong)
    code, out, err = _run(capsys, "approve", "--model", name, "--version", "2")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "rejected the credentials" in err and wrong not in err
    assert audit.query(settings, model=name) == []
    assert _registry(settings, name, monkeypatch, basic_auth_server[1]) == before


def test_a_different_user_flag_is_refused(model, basic_auth_server, monkeypatch, capsys):
    settings, name = model
    before = _registry(settings, name, monkeypatch, basic_auth_server[1])
    _as(monkeypatch, "alice")
    code, out, err = _run(capsys, "approve", "--model", name, "--version", "2", "--user", "bob", "--format", "json")
    assert (code, out) == (3, "")
    assert err.count("\n") == 1 and "--user bob is not who the tracking server authenticated (alice)" in err
    assert _registry(settings, name, monkeypatch, basic_auth_server[1]) == before
    [rec] = audit.query(settings, model=name)  # the attempt is recorded under who really made it
    assert (rec["user"], rec["identity"], rec["action"], rec["outcome"]) == ("alice", "mlflow", "approve", "refused")


def test_user_without_registry_permission_is_refused_and_nothing_changes(model, basic_auth_server, monkeypatch, capsys):
    settings, name = model
    before = _registry(settings, name, monkeypatch, basic_auth_server[1])
    _as(monkeypatch, "carol")  # an approver in DriftGate's config, but only READ on the server
    code, out, err = _run(capsys, "approve", "--model", name, "--version", "2")
    assert (code, out) == (3, "")
    assert err == (
        f"error: carol may not change registered model {name} on the tracking server "
        "(MLflow permission READ; approve needs MANAGE)\n"
    )
    assert _registry(settings, name, monkeypatch, basic_auth_server[1]) == before
    [rec] = audit.query(settings, model=name)
    assert (rec["user"], rec["identity"], rec["outcome"]) == ("carol", "mlflow", "refused")


def test_approval_carries_the_authenticated_user(model, basic_auth_server, monkeypatch, capsys):
    settings, name = model
    assert _registry(settings, name, monkeypatch, basic_auth_server[1])[0] == "1"
    _as(monkeypatch, "alice")
    monkeypatch.setenv("DRIFTGATE_USER", "someone-else")  # only a default: the server decides
    code, out, err = _run(capsys, "approve", "--model", name, "--version", "2", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["user"], doc["identity"], doc["outcome"], doc["version_after"]) == ("alice", "mlflow", "done", "2")
    assert err == "note: DRIFTGATE_USER=someone-else ignored: the tracking server authenticated alice\n"
    champion, count, tags = _registry(settings, name, monkeypatch, basic_auth_server[1])
    assert (champion, count, tags["driftgate.decision_by"]) == ("2", 1, "alice")
    [rec] = audit.query(settings, model=name)
    assert (rec["user"], rec["identity"], rec["action"], rec["outcome"]) == ("alice", "mlflow", "approve", "done")
    code, out, _ = _run(capsys, "audit", "--model", name, "--format", "json")
    [shown] = json.loads(out)["records"]
    assert shown["user"] == "alice" and shown["identity"] == "mlflow"
    # --user naming the authenticated user (in another case) is that user, not a refusal
    _as(monkeypatch, "alice")
    code, out, err = _run(
        capsys, "reject", "--model", name, "--version", "3", "--user", "ALICE", "--comment", "worse", "--format", "json"
    )
    assert code == 0, err
    assert (json.loads(out)["user"], json.loads(out)["identity"]) == ("alice", "mlflow")


def test_without_an_authenticating_server_user_is_self_asserted(demo_copy, monkeypatch, capsys):
    code, out, err = _run(
        capsys,
        "reject",
        "--model",
        "churn_classifier",
        "--version",
        "3",
        "--user",
        "alice",
        "--comment",
        "worse on recent data",
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["identity"] == "self-asserted"
    [rec] = audit.query(demo_copy, model="churn_classifier")
    assert (rec["user"], rec["identity"], rec["outcome"]) == ("alice", "self-asserted", "done")
    code, out, _ = _run(capsys, "audit", "--model", "churn_classifier")
    assert "alice [self-asserted]" in out
