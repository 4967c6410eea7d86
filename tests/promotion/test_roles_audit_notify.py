"""Roles (pure), the audit store (append-only, empty when absent), webhook notifications."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.config import load_settings
from services.config.schema import validate_config
from services.promotion import audit, notify
from services.promotion.roles import (
    can_approve,
    can_reject,
    can_rollback,
    identity_from,
    identity_key,
    roles_for,
    same_user,
)


@pytest.fixture
def settings(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[mlflow]\ntracking_uri = "sqlite:///x.db"\n[roles]\napprovers = ["alice", "Bob@Corp.com"]\nviewers = ["carol"]\n'
    )
    return load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)


def test_roles(settings):
    assert roles_for(settings, "alice") == {"viewer", "approver"}
    assert roles_for(settings, "ALICE ") == {"viewer", "approver"}
    assert roles_for(settings, "carol") == {"viewer"}
    assert roles_for(settings, None) == set()
    assert roles_for(settings, "bob@corp.com", author="bob") == {"viewer", "approver", "author"}
    assert can_approve(settings, "alice", "bob").allowed
    p = can_approve(settings, "bob@corp.com", "bob@corp.com")
    assert not p.allowed and "four-eyes" in p.reason
    assert not can_approve(settings, "carol", "bob").allowed
    assert not can_approve(settings, "", "bob").allowed
    assert can_reject(settings, "dave", "dave").allowed  # an author may reject his own
    assert not can_reject(settings, "carol", "bob").allowed
    assert can_rollback(settings, "alice").allowed and not can_rollback(settings, "carol").allowed


@pytest.fixture(scope="module")
def bare_settings(tmp_path_factory):
    """Settings with no roles configured (module scope: hypothesis reruns the test body)."""
    cwd = tmp_path_factory.mktemp("roles")
    return load_settings(env={"DRIFTGATE_HOME": str(cwd / "home"), "MLFLOW_TRACKING_URI": "sqlite:///x.db"}, cwd=cwd)


@given(name=st.text(min_size=1, max_size=20).filter(lambda s: s.strip()))
def test_nobody_approves_own_version(bare_settings, name):
    raw = {**bare_settings.raw, "roles": {"approvers": [name]}}
    settings = dataclasses.replace(bare_settings, raw=raw, sections=validate_config(raw))
    assert not can_approve(settings, name, name).allowed
    # one normalisation (NFKC + casefold): a name and its upper case are the same person
    assert same_user(name, name.upper()) == (identity_key(name) == identity_key(name.upper()))


def test_identity(settings):
    assert identity_from(settings, {"is_logged_in": True, "email": "alice@corp.com"}).user == "alice@corp.com"
    ident = identity_from(
        settings, None, {"x-forwarded-email": "bob@corp.com", "X-Forwarded-Access-Token": "s3cr3t-value"}
    )
    assert (ident.user, ident.source, ident.token) == ("bob@corp.com", "header", "s3cr3t-value")
    assert "s3cr3t" not in repr(ident)
    assert identity_from(settings, None, {}, env_user="carol").source == "env"
    assert identity_from(settings).user is None


def test_audit_absent_then_append_only(settings):
    assert audit.recent_records(settings) == []
    assert not (settings.home / "audit.db").exists()  # reading never creates the store
    for i in range(25):
        audit.append(
            settings,
            {
                "at": f"2026-01-01T00:00:{i:02d}Z",
                "user": "alice",
                "action": "approve",
                "outcome": "refused",
                "model": "m" if i % 2 else "n",
                "version": str(i),
                "reason": "r",
                "comment": "<b>x</b>",
                "evidence": {"i": i},
            },
        )
    recent = audit.recent_records(settings, limit=20)
    assert len(recent) == 20 and recent[0]["version"] == "5" and recent[-1]["version"] == "24"  # newest last
    assert recent[-1]["evidence"] == {"i": 24} and recent[-1]["comment"] == "<b>x</b>"
    assert [r["version"] for r in audit.recent_records(settings, model="m", limit=3)] == ["19", "21", "23"]
    con = sqlite3.connect(settings.home / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit_records SET user = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit_records")
    con.close()
    with pytest.raises(ValueError):
        audit.append(settings, {"action": "delete", "outcome": "done", "model": "m", "at": "x"})


def test_claim_exactly_one_winner(settings):
    assert audit.store_for(settings).claim("m", "t1", "approve", "now", 0.0) is None
    other = audit.store_for(settings).claim("m", "t2", "approve", "now", 0.0)
    assert other is not None and other["txn"] == "t1"
    audit.store_for(settings).release("m", "t1", "1")
    assert audit.store_for(settings).claim("m", "t2", "approve", "now", 0.0) is None


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_notify_and_failure_is_swallowed(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f'[mlflow]\ntracking_uri = "sqlite:///x.db"\n[notify]\nwebhook_url = "http://127.0.0.1:{server.server_port}/hook"\n'
        )
        s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path)}, config_file=cfg)
        rec = {
            "user": "alice",
            "action": "approve",
            "outcome": "done",
            "model": "m",
            "version": "2",
            "reason": "version 2 promoted",
            "comment": "ok",
        }
        thread = notify.send(s, rec)
        assert thread is not None  # a webhook is configured: a delivery thread starts
        thread.join(10)
        assert _Hook.received and "alice approved m v2" in _Hook.received[-1]["text"]
        assert notify.send(s, {**rec, "outcome": "refused"}) is None  # refusals not sent by default
    finally:
        server.shutdown()
    cfg.write_text(
        '[mlflow]\ntracking_uri = "sqlite:///x.db"\n[notify]\nwebhook_url = "http://127.0.0.1:9/none"\ntimeout_seconds = 1\n'
    )
    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path)}, config_file=cfg)
    failed = notify.stats["failed"]
    thread = notify.send(s, rec)
    assert thread is not None  # a webhook is configured: a delivery thread starts
    thread.join(10)  # nothing listens: swallowed
    assert notify.stats["failed"] == failed + 1


def test_audit_url_from_config(tmp_path):
    shared = tmp_path / "shared" / "audit.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[mlflow]\ntracking_uri = "sqlite:///x.db"\n[audit]\nurl = "sqlite:///{shared.as_posix()}"\n')
    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)
    audit.append(s, {"at": "2026-01-01T00:00:00Z", "user": "a", "action": "request", "outcome": "done", "model": "m"})
    assert shared.is_file() and not (tmp_path / "home" / "audit.db").exists()
    assert audit.latest_id(s) == 1 and audit.recent_records(s)[0]["action"] == "request"


class _FakeRegistry:
    calls: list = []

    def create_comment(self, name, version, comment):
        self.calls.append(("comment", name, version, comment))

    def create_transition_request(self, name, version, stage, comment=None):
        self.calls.append(("request", name, version, stage, comment))


class _FakeWorkspace:
    def __init__(self, host=None, token=None):
        self.model_registry = _FakeRegistry()


def test_databricks_mirroring_with_a_fake_workspace(monkeypatch, tmp_path):
    import databricks.sdk

    monkeypatch.setattr(databricks.sdk, "WorkspaceClient", _FakeWorkspace)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[mlflow]\ntracking_uri = "databricks"\nregistry_uri = "databricks"\n[databricks]\nmirror_registry = true\n'
    )
    s = load_settings(
        env={
            "DRIFTGATE_HOME": str(tmp_path),
            "DATABRICKS_HOST": "https://example.invalid",
            "DATABRICKS_TOKEN": "dapi-secret",
        },
        config_file=cfg,
    )
    rec = {"user": "alice", "action": "approve", "outcome": "done", "model": "m", "version": "2", "reason": "promoted"}
    for mirrored in (rec, {**rec, "action": "request", "user": "bob"}):
        thread = notify.mirror_databricks(s, mirrored)
        assert thread is not None  # Databricks mirroring is configured: a thread starts
        thread.join(10)
    assert _FakeRegistry.calls[0][:3] == ("comment", "m", "2") and "alice approved m v2" in _FakeRegistry.calls[0][3]
    assert _FakeRegistry.calls[1][:4] == ("request", "m", "2", "Production")
    assert notify.mirror_databricks(s, {**rec, "outcome": "refused"}) is None
    uc = tmp_path / "uc.toml"
    uc.write_text(
        '[mlflow]\ntracking_uri = "databricks"\nregistry_uri = "databricks-uc"\n[databricks]\nmirror_registry = true\n'
    )
    assert notify.mirror_databricks(load_settings(env={"DRIFTGATE_HOME": str(tmp_path)}, config_file=uc), rec) is None
