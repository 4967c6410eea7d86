"""Real identity servers on 127.0.0.1: an OpenID Connect provider (``oidc-provider-mock``) for
the sign-in tests and an MLflow tracking server with basic authentication for the CLI tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.support import servers


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> Iterator[str]:
    """``oidc-provider-mock`` on a free loopback port (see ``servers.oidc_provider``)."""
    with servers.oidc_provider(tmp_path_factory.mktemp("oidc")) as url:
        yield url


@pytest.fixture(scope="session")
def basic_auth_server(tmp_path_factory, empty_mlflow_store):
    """A real ``mlflow server --app-name basic-auth`` on 127.0.0.1 with its own store and user
    database. Yields ``(uri, admin_password)``; the admin creates users over the auth REST API."""
    root = tmp_path_factory.mktemp("mlflow-basic-auth")
    empty_mlflow_store(root / "mlflow.db")  # the tracking store; the auth app migrates its own
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
    with servers.mlflow_server(root, app_name="basic-auth", env=env) as uri:
        yield uri, admin_password
