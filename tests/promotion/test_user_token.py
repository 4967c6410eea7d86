"""On Databricks, registry calls made for a signed-in user carry that user's own token.

A small fake Databricks REST server (workspace registry + Unity Catalog registry endpoints) on
127.0.0.1 records the ``Authorization`` header of every request; the tests check that the user's
forwarded token is what reached the registry (never the app's ``DATABRICKS_TOKEN``), that the token
never shows in an error, and that non-Databricks stores keep the normal client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from services.config import load_settings
from services.errors import BadInput, DriftGateError
from services.promotion.approvals import approve, reject
from services.promotion.gate import Check, GateResult
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import UserMlflowClient, make_client, make_user_client

APP_TOKEN = "dapi-APP-0000-secret"
USER_TOKEN = "eyJ-USER-alice-1111-secret"
VIEWER_TOKEN = "eyJ-USER-carol-2222-secret"  # the fake workspace denies this user every write
MODEL = "churn_classifier"
UC_MODEL = "main.ml.churn_classifier"


class FakeDatabricks:
    """In-memory registry answering the MLflow REST endpoints (workspace and Unity Catalog)."""

    def __init__(self):
        self.calls: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.lock = threading.Lock()
        self.url = ""  # set once the HTTP server listens
        self.reset()

    def reset(self):
        self.calls.clear()
        self.comments: list[tuple] = []
        self.models: dict[str, dict[str, Any]] = {}  # the registry as JSON documents
        for name in (MODEL, UC_MODEL):
            self.models[name] = {
                "tags": {},
                "aliases": {"champion": "1"} if name == UC_MODEL else {},
                "versions": {
                    "1": {"stage": "Production" if name == MODEL else "None", "tags": {"driftgate.author": "alice"}},
                    "2": {"stage": "None", "tags": {"driftgate.author": "bob"}},
                },
            }

    # -- JSON shapes of the MLflow protos ---------------------------------------------------------
    def _mv(self, name, v):
        mv = self.models[name]["versions"][v]
        return {
            "name": name,
            "version": v,
            "creation_timestamp": 1700000000000 + int(v),
            "current_stage": mv["stage"],
            "status": "READY",
            "source": f"dbfs:/m/{v}",
            "tags": [{"key": k, "value": x} for k, x in mv["tags"].items()],
        }

    def _rm(self, name):
        m = self.models[name]
        return {
            "name": name,
            "creation_timestamp": 1700000000000,
            "tags": [{"key": k, "value": x} for k, x in m["tags"].items()],
            "aliases": [{"alias": a, "version": v} for a, v in m["aliases"].items()],
        }

    def handle(  # noqa: C901 - the fake REST server's routing table: one branch per endpoint
        self, method: str, path: str, body: dict, auth: str | None
    ) -> tuple[int, dict]:
        with self.lock:
            if not path.startswith("/api/"):  # e.g. the Databricks SDK's host-metadata probe
                return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "not found"}
            self.calls.append((method, path, auth))
            if auth not in (f"Bearer {USER_TOKEN}", f"Bearer {VIEWER_TOKEN}", f"Bearer {APP_TOKEN}"):
                return 401, {"error_code": "UNAUTHENTICATED", "message": "invalid token"}
            route = path.removeprefix("/api/2.0/mlflow/").removeprefix("unity-catalog/")
            write = method != "GET" and not route.endswith("/search")
            if write and auth == f"Bearer {VIEWER_TOKEN}":
                return 403, {"error_code": "PERMISSION_DENIED", "message": "User does not have MANAGE on model"}
            name = body.get("name")
            if name is not None and name not in self.models:
                return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"model {name} not found"}
            m: Any = self.models.get(name) if name else None
            if route == "registered-models/get":
                return 200, {"registered_model": self._rm(name)}
            if route == "model-versions/search":
                wanted = str(body.get("filter", "")).split("'")[1]
                return 200, {"model_versions": [self._mv(wanted, v) for v in self.models[wanted]["versions"]]}
            if route == "model-versions/get":
                return 200, {"model_version": self._mv(name, str(body["version"]))}
            if route == "model-versions/transition-stage":
                v, stage = str(body["version"]), body["stage"]
                if str(body.get("archive_existing_versions")).lower() == "true":
                    for other, mv in m["versions"].items():
                        if other != v and mv["stage"] == stage:
                            mv["stage"] = "Archived"
                m["versions"][v]["stage"] = stage
                return 200, {"model_version": self._mv(name, v)}
            if route == "model-versions/set-tag":
                m["versions"][str(body["version"])]["tags"][body["key"]] = body["value"]
                return 200, {}
            if route == "model-versions/delete-tag":
                m["versions"][str(body["version"])]["tags"].pop(body["key"], None)
                return 200, {}
            if route == "registered-models/set-tag":
                m["tags"][body["key"]] = body["value"]
                return 200, {}
            if route == "registered-models/delete-tag":
                m["tags"].pop(body["key"], None)
                return 200, {}
            if route == "registered-models/alias" and method == "POST":
                m["aliases"][body["alias"]] = str(body["version"])
                return 200, {}
            if route == "registered-models/alias" and method == "DELETE":
                m["aliases"].pop(body["alias"], None)
                return 200, {}
            if route in ("comments/create", "transition-requests/create"):
                self.comments.append((route, body.get("name"), str(body.get("version")), body.get("comment")))
                return 200, {}
            return 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": f"no fake for {method} {path}"}

    def auth_by_route(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for method, path, auth in self.calls:
            out.setdefault(f"{method} {path}", set()).add(auth or "")
        return out


@pytest.fixture(scope="module")
def fake_db():
    fake = FakeDatabricks()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            url = urlparse(self.path)
            body = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                body.update(json.loads(self.rfile.read(length) or b"{}"))
            status, doc = fake.handle(self.command, url.path, body, self.headers.get("Authorization"))
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def db_settings(fake_db, tmp_path, monkeypatch):
    """Settings for a Databricks workspace served by the fake; the app's own token is APP_TOKEN."""
    fake_db.reset()
    monkeypatch.setenv("DATABRICKS_HOST", fake_db.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", APP_TOKEN)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    def make(registry_uri: str = "databricks", lifecycle: str = "stages", extra: str = ""):
        cfg = tmp_path / f"{lifecycle}.toml"
        cfg.write_text(
            f'[mlflow]\nlifecycle = "{lifecycle}"\n[roles]\napprovers = ["alice"]\nviewers = ["carol"]\n{extra}'
        )
        env = {
            "DRIFTGATE_HOME": str(tmp_path / "home"),
            "MLFLOW_TRACKING_URI": "databricks",
            "MLFLOW_REGISTRY_URI": registry_uri,
            "DATABRICKS_HOST": fake_db.url,
            "DATABRICKS_TOKEN": APP_TOKEN,
        }
        return load_settings(env=env, config_file=cfg)

    return make


def _passing_gate(model: str, version: str, champion: str | None, lifecycle: str) -> GateResult:
    # The gate's own evaluation reads runs and artifacts (tracking, not registry): tested elsewhere.
    return GateResult(
        model=model,
        version=version,
        checks=[Check("beats_champion", "pass", "ok")],
        champion=champion,
        lifecycle=lifecycle,
        config={},
    )


def test_workspace_registry_approve_uses_the_users_token(fake_db, db_settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings = db_settings("databricks", "stages")
    client = make_user_client(settings, USER_TOKEN)
    assert isinstance(client, UserMlflowClient)
    assert USER_TOKEN not in repr(client)
    rec = approve(settings, MODEL, "2", "alice", client=client, gate=_passing_gate(MODEL, "2", "1", "stages"))
    assert rec["outcome"] == "done" and rec["version_after"] == "2"
    # The transition really happened in the (fake) workspace ...
    versions = fake_db.models[MODEL]["versions"]
    assert versions["2"]["stage"] == "Production" and versions["1"]["stage"] == "Archived"
    assert versions["2"]["tags"]["driftgate.decision"] == "approved"
    assert fake_db.models[MODEL]["tags"]  # the previous champion is remembered on the model
    # ... and every registry request, reads and writes, carried alice's token, never the app's.
    routes = fake_db.auth_by_route()
    assert {
        "GET /api/2.0/mlflow/registered-models/get",
        "GET /api/2.0/mlflow/model-versions/search",
        "POST /api/2.0/mlflow/model-versions/transition-stage",
        "POST /api/2.0/mlflow/model-versions/set-tag",
        "POST /api/2.0/mlflow/registered-models/set-tag",
    } <= set(routes)
    assert {a for auths in routes.values() for a in auths} == {f"Bearer {USER_TOKEN}"}
    assert USER_TOKEN not in caplog.text


def test_databricks_mirror_is_written_with_the_users_token(fake_db, db_settings):
    settings = db_settings("databricks", "stages", "[databricks]\nmirror_registry = true\n")
    approve(
        settings,
        MODEL,
        "2",
        "alice",
        client=make_user_client(settings, USER_TOKEN),
        gate=_passing_gate(MODEL, "2", "1", "stages"),
    )
    deadline = time.monotonic() + 15
    while not fake_db.comments and time.monotonic() < deadline:  # the mirror runs in a thread
        time.sleep(0.05)
    assert fake_db.comments and fake_db.comments[0][:3] == ("comments/create", MODEL, "2")
    assert "alice" in fake_db.comments[0][3]
    assert {a for _, _, a in fake_db.calls} == {f"Bearer {USER_TOKEN}"}


def test_app_client_uses_the_apps_credentials(fake_db, db_settings):
    """Control: the shared client (no user token) reaches the same fake with the app's token, so the
    fake does tell the two apart."""
    settings = db_settings("databricks", "stages")
    for client in (make_client(settings), make_user_client(settings, None), make_user_client(settings, "")):
        assert not isinstance(client, UserMlflowClient)
        fake_db.calls.clear()
        assert client.get_registered_model(MODEL).name == MODEL
        assert {a for _, _, a in fake_db.calls} == {f"Bearer {APP_TOKEN}"}


def test_two_users_in_threads_never_share_credentials(fake_db, db_settings):
    settings = db_settings("databricks", "stages")
    seen: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def work(token: str):
        try:
            client = make_user_client(settings, token)
            for _ in range(5):
                client.get_registered_model(MODEL)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in (USER_TOKEN, VIEWER_TOKEN) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    for _, path, auth in fake_db.calls:
        seen.setdefault(auth, []).append(path)
    assert set(seen) == {f"Bearer {USER_TOKEN}", f"Bearer {VIEWER_TOKEN}"}
    assert len(seen[f"Bearer {USER_TOKEN}"]) == len(seen[f"Bearer {VIEWER_TOKEN}"]) == 15


def test_denied_user_is_refused_by_the_workspace_and_the_token_never_shows(fake_db, db_settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings = db_settings("databricks", "stages")
    client = make_user_client(settings, VIEWER_TOKEN)
    # DriftGate's own roles would let "alice" approve; the workspace says no for this token.
    with pytest.raises(DriftGateError) as err:
        approve(settings, MODEL, "2", "alice", client=client, gate=_passing_gate(MODEL, "2", "1", "stages"))
    assert "failed" in str(err.value) and VIEWER_TOKEN not in str(err.value)
    versions = fake_db.models[MODEL]["versions"]
    assert versions["1"]["stage"] == "Production" and versions["2"]["stage"] == "None"  # unchanged
    assert {a for _, _, a in fake_db.calls} == {f"Bearer {VIEWER_TOKEN}"}
    assert VIEWER_TOKEN not in caplog.text
    # An unknown token (expired, revoked) also fails without echoing it.
    with pytest.raises(DriftGateError) as err:
        make_lifecycle(settings, make_user_client(settings, "eyJ-EXPIRED-secret"), MODEL).state()
    assert "eyJ-EXPIRED-secret" not in str(err.value)


def test_missing_host_is_a_clear_error_without_the_token(fake_db, db_settings, monkeypatch):
    settings = db_settings("databricks", "stages")
    monkeypatch.delenv("DATABRICKS_HOST")
    bare = load_settings(
        env={"DRIFTGATE_HOME": str(settings.home), "MLFLOW_TRACKING_URI": "databricks"},
        config_file=settings.config_path,
    )
    with pytest.raises(BadInput, match="DATABRICKS_HOST") as err:
        make_user_client(bare, USER_TOKEN)
    assert USER_TOKEN not in str(err.value)


def test_unity_catalog_reads_and_reject_use_the_users_token(fake_db, db_settings):
    settings = db_settings("databricks-uc", "aliases")
    client = make_user_client(settings, USER_TOKEN)
    assert isinstance(client, UserMlflowClient)
    lc = make_lifecycle(settings, client, UC_MODEL)
    assert lc.state().champion == "1"
    assert [v.version for v in lc.versions()] == ["1", "2"]
    rec = reject(settings, UC_MODEL, "2", "alice", "worse on the recent window", client=client)
    assert rec["outcome"] == "done"
    assert fake_db.models[UC_MODEL]["versions"]["2"]["tags"]["driftgate.decision"] == "rejected"
    routes = fake_db.auth_by_route()
    assert "GET /api/2.0/mlflow/unity-catalog/registered-models/get" in routes
    assert any(r.endswith("/unity-catalog/model-versions/set-tag") for r in routes)
    assert {a for auths in routes.values() for a in auths} == {f"Bearer {USER_TOKEN}"}


def test_local_stores_keep_the_normal_client(tmp_path, empty_mlflow_store):
    settings = load_settings(
        env={"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": empty_mlflow_store(tmp_path / "m.db")}
    )
    client = make_user_client(settings, USER_TOKEN)
    assert not isinstance(client, UserMlflowClient)
    assert client._registry_uri == settings.registry_uri
    http = load_settings(env={"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})
    assert not isinstance(make_user_client(http, USER_TOKEN), UserMlflowClient)


def test_page_decisions_use_the_forwarded_token(fake_db, db_settings, tmp_path, monkeypatch, empty_mlflow_store):
    """The Promotions page's decision client: the user's token on Databricks, the shared client elsewhere."""
    from types import SimpleNamespace

    from components import promotion_data

    shared = object()
    settings = db_settings("databricks", "stages")
    monkeypatch.setattr(promotion_data, "forwarded_token", lambda: USER_TOKEN)
    client = promotion_data.decision_client(SimpleNamespace(settings=settings, client=shared))
    assert isinstance(client, UserMlflowClient)
    fake_db.calls.clear()
    client.get_registered_model(MODEL)
    assert {a for _, _, a in fake_db.calls} == {f"Bearer {USER_TOKEN}"}
    local = load_settings(
        env={"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": empty_mlflow_store(tmp_path / "m.db")}
    )
    assert promotion_data.decision_client(SimpleNamespace(settings=local, client=shared)) is shared
    monkeypatch.setattr(promotion_data, "forwarded_token", lambda: None)
    assert promotion_data.decision_client(SimpleNamespace(settings=settings, client=shared)) is shared
