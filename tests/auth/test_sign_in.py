"""Sign-in through a real OIDC provider (``oidc-provider-mock`` on 127.0.0.1) in Debian chromium.

The app runs from a temporary folder holding its own ``.streamlit/secrets.toml`` (``[auth]``:
Streamlit's OIDC) and a ``driftgate.toml`` whose roles name e-mail addresses; the workspace is a
copy of the demo (v2 of churn_classifier, authored by bob, passes the gate). The provider's pages
link a CDN stylesheet that never loads offline, so the test waits for its form, never for ``load``.
"""

from __future__ import annotations

import secrets

import pytest

from services.promotion import audit
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.browser import assert_page_ok
from tests.support.servers import free_port, header_proxy

pytestmark = pytest.mark.e2e
MODEL = "churn_classifier"
APPROVER = "alice@example.com"
VIEWER = "carol@example.com"


def _app_folder(tmp_path, port: int, provider: str):
    folder = tmp_path / "app"
    (folder / ".streamlit").mkdir(parents=True)
    (folder / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "driftgate"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    (folder / "driftgate.toml").write_text(f'[roles]\napprovers = ["{APPROVER}"]\nviewers = ["{VIEWER}"]\n')
    return folder


def _sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def _main(page) -> str:
    return page.locator('[data-testid="stMainBlockContainer"]').inner_text()


def _approve_button(page):
    return page.locator('[data-testid="stMainBlockContainer"] button', has_text="Approve").first


def _sign_in(page, email: str) -> None:
    page.locator('[data-testid="stSidebar"] button', has_text="Sign in").click()
    form = page.locator('input[name="sub"]')
    form.wait_for()  # the provider's login form (its CDN stylesheet never loads offline)
    form.fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.locator('[data-testid="stSidebar"]', has_text=f"Signed in as {email}").wait_for()


def _sign_out(page) -> None:
    page.locator('[data-testid="stSidebar"] button', has_text="Sign out").click()
    end = page.get_by_role("button", name="End session")  # the provider's end-session form
    end.wait_for()
    end.click()
    page.locator('[data-testid="stSidebar"] button', has_text="Sign in").wait_for()


def test_sign_in_decides_who_may_approve(demo_copy, oidc_provider, streamlit_server, browser_page, tmp_path):
    port = free_port()
    folder = _app_folder(tmp_path, port, oidc_provider)
    base = streamlit_server(env={"DRIFTGATE_HOME": str(demo_copy.home), "DRIFTGATE_USER": "bob"}, cwd=folder, port=port)
    page = browser_page
    promotions = f"{base}/promotions?model={MODEL}&version=2"

    # Not signed in: no persona picker (also on the demo workspace), DRIFTGATE_USER ignored, read-only.
    page.goto(promotions)
    assert_page_ok(page)
    side = _sidebar(page)
    assert "Not signed in: read-only" in side and "Demo persona" not in side and "bob" not in side
    assert _approve_button(page).is_disabled()
    assert "Approve disabled: sign in to approve" in _main(page)

    # The approver signs in through the provider: Approve is enabled for bob's passing v2.
    _sign_in(page, APPROVER)
    page.goto(promotions)
    assert_page_ok(page)
    assert f"Signed in as {APPROVER}" in _sidebar(page)
    button = _approve_button(page)
    assert button.is_enabled()
    button.click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Confirm approval").click()
    page.get_by_text("version 2 promoted to champion").wait_for()
    assert make_lifecycle(demo_copy, make_client(demo_copy), MODEL).state().champion == "2"
    rec = audit.query(demo_copy, model=MODEL)[-1]
    assert (rec["user"], rec["identity"], rec["action"], rec["outcome"], rec["version"]) == (
        APPROVER,
        "oidc",
        "approve",
        "done",
        "2",
    )

    # Sign out (also at the provider): no identity any more.
    _sign_out(page)
    page.goto(f"{base}/promotions?model={MODEL}&version=3")
    assert_page_ok(page)
    side = _sidebar(page)
    assert "Not signed in: read-only" in side and APPROVER not in side
    assert "Approve disabled: sign in to approve" in _main(page)

    # A viewer signs in: decisions disabled with the reason.
    _sign_in(page, VIEWER)
    page.goto(f"{base}/promotions?model={MODEL}&version=3")
    assert_page_ok(page)
    assert _approve_button(page).is_disabled()
    assert f"Approve disabled: {VIEWER} does not hold the approver role" in _main(page)
    assert len(audit.query(demo_copy, model=MODEL)) == 1  # looking is not a decision


@pytest.mark.parametrize("trusted", [True, False])
def test_forwarded_email_is_the_identity_only_behind_a_trusted_proxy(
    demo_copy, streamlit_server, _browser, tmp_path, trusted
):
    """A reverse proxy (or Databricks Apps) forwards the signed-in e-mail; the app takes it only
    when ``[auth] trust_proxy_headers = true`` (anyone can send that header to an exposed app)."""
    folder = tmp_path / "proxied"
    folder.mkdir()
    (folder / "driftgate.toml").write_text(
        f'[auth]\ntrust_proxy_headers = {str(trusted).lower()}\n[roles]\napprovers = ["{APPROVER}"]\n'
    )
    upstream = streamlit_server(env={"DRIFTGATE_HOME": str(demo_copy.home)}, cwd=folder)
    # The header comes from a real reverse proxy in front of the app (on every request and the
    # WebSocket upgrade, as a proxy sends it), not from the browser.
    with header_proxy(tmp_path, upstream, {"X-Forwarded-Email": APPROVER}) as base:
        context = _browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(90_000)
            page.goto(f"{base}/promotions?model={MODEL}&version=2")
            assert_page_ok(page)
            side = _sidebar(page)
            if trusted:
                assert f"Signed in as {APPROVER}" in side and "Demo persona" not in side
                assert _approve_button(page).is_enabled()
            else:  # the header is ignored: the demo's persona picker decides (alice by default)
                assert APPROVER not in side and "Demo persona" in side
        finally:
            context.close()
