"""Real identity servers on 127.0.0.1: an OpenID Connect provider (``oidc-provider-mock``) for
the sign-in tests and an MLflow tracking server with basic authentication for the CLI tests."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from tests.conftest import _bin, _stop
from tests.helpers import free_port, wait_http


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> str:
    """``oidc-provider-mock`` on a free loopback port (any client id/secret is accepted; the
    login form signs in whatever subject is typed, with that subject as its e-mail claim)."""
    root = tmp_path_factory.mktemp("oidc")
    port = free_port()
    log = open(root / "oidc.log", "wb")
    env = dict(os.environ, AUTHLIB_INSECURE_TRANSPORT="1")  # plain http on loopback
    proc = subprocess.Popen(
        [_bin("oidc-provider-mock"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/.well-known/openid-configuration", timeout=60, proc=proc)
        yield url
    finally:
        _stop(proc, log)


@pytest.fixture(scope="session")
def basic_auth_server(tmp_path_factory):
    """A real ``mlflow server --app-name basic-auth`` on 127.0.0.1 with its own store and user
    database. Yields ``(uri, admin_password)``; the admin creates users over the auth REST API."""
    root = tmp_path_factory.mktemp("mlflow-basic-auth")
    port = free_port()
    admin_password = secrets.token_urlsafe(18)
    ini = root / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{(root / 'auth.db').as_posix()}\n"
        "admin_username = admin\n"
        f"admin_password = {admin_password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 600\n"  # one PBKDF2 check per user, not one per request
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
    env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(16)  # CSRF key the auth app requires
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [
            _bin("mlflow"),
            "server",
            "--app-name",
            "basic-auth",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{(root / 'mlflow.db').as_posix()}",
            "--default-artifact-root",
            (root / "artifacts").as_uri(),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env=env,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", timeout=120, proc=proc)
        yield uri, admin_password
    finally:
        _stop(proc, log)
