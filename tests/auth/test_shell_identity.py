"""AppTest of the shell's identity with ``[auth]`` in the secrets: Sign in instead of personas,
an incomplete ``[auth]`` named (keys only, never values) and still no persona picker."""

from __future__ import annotations

import pytest

from tests.support.app import app_test, assert_no_exception

COMPLETE = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "s3cret-cookie",
    "client_id": "driftgate",
    "client_secret": "s3cret-client",
    "server_metadata_url": "http://127.0.0.1:9400/.well-known/openid-configuration",
}


@pytest.fixture(autouse=True)
def _demo_env(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    monkeypatch.setenv("DRIFTGATE_USER", "alice")


def _run(auth: dict):
    at = app_test("pages/promotions.py", {"model": "churn_classifier", "version": "2"})
    at.secrets["auth"] = auth
    at.run()
    assert_no_exception(at)
    return at


def _sidebar_text(at) -> str:
    return " ".join([c.value for c in at.sidebar.caption] + [e.value for e in at.sidebar.error])


def test_sign_in_replaces_the_persona_picker():
    at = _run(COMPLETE)
    assert [b.label for b in at.sidebar.button] == ["Sign in"]
    assert not [s for s in at.sidebar.selectbox if s.key == "dg_persona"]
    assert "Not signed in: read-only" in _sidebar_text(at)
    assert at.button(key="dg_approve").disabled  # DRIFTGATE_USER=alice does not count
    assert not at.sidebar.error


def test_named_providers_get_one_button_each():
    at = _run(
        {
            "redirect_uri": COMPLETE["redirect_uri"],
            "cookie_secret": "x",
            "google": {k: COMPLETE[k] for k in ("client_id", "client_secret", "server_metadata_url")},
            "okta": {k: COMPLETE[k] for k in ("client_id", "client_secret", "server_metadata_url")},
        }
    )
    assert [b.label for b in at.sidebar.button] == ["Sign in with google", "Sign in with okta"]


def test_incomplete_auth_is_named_without_values():
    at = _run({"redirect_uri": COMPLETE["redirect_uri"], "cookie_secret": "s3cret-cookie", "client_id": "driftgate"})
    [err] = at.sidebar.error
    assert err.value == (
        "Sign-in is not usable: [auth] in .streamlit/secrets.toml lacks client_secret, server_metadata_url"
    )
    assert not at.sidebar.button and not [s for s in at.sidebar.selectbox if s.key == "dg_persona"]
    assert "s3cret" not in _sidebar_text(at)
    assert at.button(key="dg_approve").disabled
