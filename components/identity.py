"""Who is using the app.

Order: the signed-in user (``st.user`` when OIDC is configured in ``.streamlit/secrets.toml``);
the user a trusted reverse proxy or Databricks Apps forwards (``X-Forwarded-Email`` /
``X-Forwarded-Preferred-Username``; trusted only on Databricks Apps or when ``[auth]
trust_proxy_headers = true``, because anyone can send a header to an exposed app); in demo mode a
persona picker; otherwise ``DRIFTGATE_USER`` for local runs; else anonymous (a viewer).
"""

from __future__ import annotations

import os

import streamlit as st

from services.config import Settings

FORWARDED_HEADERS = ("X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User")


def _oidc_user() -> str | None:
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("name") or "") or None
    except Exception:  # noqa: BLE001 - st.user raises when auth is not configured
        return None
    return None


def _trust_proxy(settings: Settings) -> bool:
    return bool(settings.section("auth").get("trust_proxy_headers")) or bool(os.environ.get("DATABRICKS_APP_NAME"))


def forwarded_user(settings: Settings) -> str | None:
    if not _trust_proxy(settings):
        return None
    try:
        headers = st.context.headers
    except Exception:  # noqa: BLE001 - no request context (e.g. AppTest)
        return None
    for name in FORWARDED_HEADERS:
        value = headers.get(name)
        if value:
            return value.strip()
    return None


def forwarded_token() -> str | None:
    """The user's own access token Databricks Apps forwards (registry calls on the user's behalf)."""
    try:
        return st.context.headers.get("X-Forwarded-Access-Token") or None
    except Exception:  # noqa: BLE001
        return None


def current_user(settings: Settings) -> str | None:
    user = _oidc_user() or forwarded_user(settings)
    if user:
        st.sidebar.caption(f"Signed in as **{user}**")
        return user
    if settings.demo:
        personas = settings.section("demo", "personas") or {"alice": "approver"}
        names = list(personas)
        wanted = st.session_state.get("dg_persona") or settings.user
        index = names.index(wanted) if wanted in names else 0
        user = st.sidebar.selectbox(
            "Demo persona", names, index=index, key="dg_persona",
            format_func=lambda n: f"{n} — {personas.get(n, '')}",
            help="Demo mode only: a real deployment takes the signed-in user.",
        )
        return user
    if settings.user:
        st.sidebar.caption(f"User (DRIFTGATE_USER): **{settings.user}**")
        return settings.user
    st.sidebar.caption("Not signed in: read-only")
    return None
