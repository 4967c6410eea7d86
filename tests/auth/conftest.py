"""A real OpenID Connect provider (``oidc-provider-mock``) on 127.0.0.1 for the sign-in tests."""

from __future__ import annotations

import os
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
    proc = subprocess.Popen([_bin("oidc-provider-mock"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/.well-known/openid-configuration", timeout=60, proc=proc)
        yield url
    finally:
        _stop(proc, log)
