"""CLI identity on Databricks: the Databricks SDK's current user (``current_user.me()``) with the
credentials DriftGate is configured with. No workspace is reachable here, so a minimal stand-in
for the SCIM ``Me`` endpoint on 127.0.0.1 answers the real SDK (it records the Authorization
header it got); the MLflow basic-auth tests cover the same rules against a real server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.config import load_settings
from services.errors import BadInput, Refused, Unavailable
from services.promotion import audit
from services.promotion.identity import resolve

TOKEN = "dapi-alice-0000-secret"


@pytest.fixture
def scim():
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.startswith("/api/2.0/preview/scim/v2/Me"):
                seen.append(self.headers.get("Authorization"))
                ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
                body = (
                    {"id": "42", "userName": "alice@corp.com"}
                    if ok
                    else {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
                )
                self.send_response(200 if ok else 401)
            else:  # e.g. the SDK's host-metadata probe
                body = {"error_code": "NOT_FOUND", "message": "not here"}
                self.send_response(404)
            data = json.dumps(body).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def _settings(tmp_path, host: str, token: str, registry: str = "databricks-uc"):
    return load_settings(
        env={
            "DRIFTGATE_HOME": str(tmp_path / "home"),
            "MLFLOW_TRACKING_URI": "databricks",
            "MLFLOW_REGISTRY_URI": registry,
            "DATABRICKS_HOST": host,
            "DATABRICKS_TOKEN": token,
        }
    )


@pytest.mark.parametrize("registry", ["databricks", "databricks-uc"])
def test_the_databricks_user_decides(scim, tmp_path, registry):
    host, seen = scim
    settings = _settings(tmp_path, host, TOKEN, registry)
    ident = resolve(settings, None, action="approve", model="main.ml.churn", version="2")
    assert (ident.user, ident.source) == ("alice@corp.com", "databricks")
    assert seen == [f"Bearer {TOKEN}"]  # asked with DriftGate's configured credentials
    assert resolve(settings, "Alice@Corp.com", action="approve", model="main.ml.churn").user == "alice@corp.com"


def test_a_different_user_is_refused_and_audited_as_the_real_one(scim, tmp_path):
    host, _ = scim
    settings = _settings(tmp_path, host, TOKEN)
    with pytest.raises(Refused, match=r"--user bob is not who the tracking server authenticated \(alice@corp.com\)"):
        resolve(settings, "bob", action="rollback", model="main.ml.churn")
    [rec] = audit.query(settings)
    assert (rec["user"], rec["identity"], rec["action"], rec["outcome"]) == (
        "alice@corp.com",
        "databricks",
        "rollback",
        "refused",
    )


def test_a_rejected_token_is_one_line_without_the_token(scim, tmp_path):
    host, _ = scim
    bad = "dapi-wrong-9999-secret"
    settings = _settings(tmp_path, host, bad)
    with pytest.raises(Unavailable) as err:
        resolve(settings, None, action="approve", model="main.ml.churn")
    assert "Databricks did not say who is signed in" in str(err.value) and bad not in str(err.value)
    assert audit.query(settings) == []


def test_a_user_flag_with_control_characters_is_bad_input_not_an_audit_line(scim, tmp_path):
    host, seen = scim
    settings = _settings(tmp_path, host, TOKEN)
    with pytest.raises(BadInput, match="control or invisible characters"):
        resolve(settings, "bob\r\n2026-01-01 alice approve done", action="approve", model="main.ml.churn")
    assert audit.query(settings) == [] and seen == []
