"""Who is using the app.

Order: the signed-in user (``st.user.email`` when Streamlit's OIDC is configured: an ``[auth]``
table in ``.streamlit/secrets.toml`` with ``redirect_uri``, ``cookie_secret`` and a provider's
``client_id`` / ``client_secret`` / ``server_metadata_url``); the user a trusted reverse proxy or
Databricks Apps forwards (``X-Forwarded-Email`` / ``X-Forwarded-Preferred-Username``; trusted only
on Databricks Apps or when ``[auth] trust_proxy_headers = true``, because anyone can send a header
to an exposed app); in demo mode a persona picker; otherwise ``DRIFTGATE_USER`` for local runs;
else anonymous (a viewer).

With sign-in configured the sidebar shows **Sign in** / **Sign out** and nothing else decides who
you are: no persona picker (also on the demo workspace) and no ``DRIFTGATE_USER``; until you sign
in you are a viewer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st

from components.text import md
from services.config import Settings

FORWARDED_HEADERS = ("X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User")


_md = md  # the one markdown escape helper (components.text)


_SHARED_KEYS = ("redirect_uri", "cookie_secret")
_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def _auth_section() -> Mapping | None:
    """Streamlit's ``[auth]`` table of ``.streamlit/secrets.toml``, None when there is none."""
    try:
        if not st.secrets.load_if_toml_exists():
            return None
        section = st.secrets.get("auth")
    except Exception:
        return None
    return section if isinstance(section, Mapping) and section else None


def _provider_tables(section: Mapping) -> dict[str | None, Mapping]:
    out: dict[str | None, Mapping] = {None: section} if any(k in section for k in _PROVIDER_KEYS) else {}
    out.update({str(k): v for k, v in section.items() if isinstance(v, Mapping) and k != "client_kwargs"})
    return out


def sign_in_providers() -> list[str | None]:
    """The complete OIDC providers ``.streamlit/secrets.toml`` configures: ``None`` for the
    default one (keys directly under ``[auth]``), else the names of ``[auth.<name>]`` tables."""
    section = _auth_section()
    if section is None or any(not section.get(k) for k in _SHARED_KEYS):
        return []
    return [name for name, table in _provider_tables(section).items() if all(table.get(k) for k in _PROVIDER_KEYS)]


def _auth_problem() -> str | None:
    """What an incomplete ``[auth]`` lacks (key names only, never values)."""
    section = _auth_section()
    if section is None:
        return None
    missing = [k for k in _SHARED_KEYS if not section.get(k)]
    for name, table in _provider_tables(section).items():
        missing += [f"{name}.{k}" if name else k for k in _PROVIDER_KEYS if not table.get(k)]
    if not _provider_tables(section):
        missing += list(_PROVIDER_KEYS)
    if not missing:
        return None
    return "Sign-in is not usable: [auth] in .streamlit/secrets.toml lacks " + ", ".join(missing)


def _oidc_email() -> tuple[bool, str | None]:
    """(signed in, e-mail). Roles are matched on the e-mail only: a display name is no identity,
    and an address the provider marks unverified is not trusted."""
    try:
        if not st.user.is_logged_in:
            return False, None
        email = str(st.user.get("email") or "").strip()
        if st.user.get("email_verified") is False:
            return True, None
    except Exception:
        return False, None
    return True, email or None


def _sign_in_controls(providers: list[str | None]) -> None:
    problem = _auth_problem()
    if problem:
        st.sidebar.error(problem)
    try:
        import authlib  # noqa: F401 - st.login needs it (the streamlit[auth] extra)
    except ImportError:
        st.sidebar.error("Sign-in needs Authlib: pip install -r requirements.txt")
        providers = []
    for provider in providers:
        label = "Sign in" if provider is None or len(providers) == 1 else f"Sign in with {provider}"
        st.sidebar.button(
            label,
            key=f"dg_sign_in_{provider or 'default'}",
            type="primary",
            on_click=st.login,
            args=(provider,) if provider else (),
        )
    st.sidebar.caption("Not signed in: read-only")


def _signed_in_user(settings: Settings, providers: list[str | None]) -> str | None:
    """Identity when sign-in is configured: the OIDC e-mail, else a trusted forwarded header."""
    signed_in, email = _oidc_email()
    if signed_in:
        if email:
            st.sidebar.caption(f"Signed in as **{_md(email)}**")
        else:
            st.sidebar.warning("Your identity provider sent no verified e-mail address: read-only.")
        st.sidebar.button("Sign out", key="dg_sign_out", on_click=st.logout)
        return email
    user = forwarded_user(settings)
    if user:
        st.sidebar.caption(f"Signed in as **{_md(user)}**")
        return user
    _sign_in_controls(providers)
    return None


def _trust_proxy(settings: Settings) -> bool:
    return bool(settings.section("auth").get("trust_proxy_headers")) or bool(os.environ.get("DATABRICKS_APP_NAME"))


def forwarded_user(settings: Settings) -> str | None:
    if not _trust_proxy(settings):
        return None
    try:
        headers = st.context.headers
    except Exception:
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
    except Exception:
        return None


PERSONA_WIDGET = "dg_persona"  # the sidebar selectbox's key
PERSONA_CHOICE = "dg_persona_choice"  # survives page switches (widget state does not)
PERSONA_PARAM = "persona"  # ...and new sessions opened from a shared link


def demo_persona(settings: Settings) -> str:
    """The demo persona picker. The choice persists across pages and reruns: ``?persona=`` (the
    picker writes it on change; every navigation link carries it), else the widget's state, the
    session's last choice, ``DRIFTGATE_USER``, the first persona."""
    personas = settings.section("demo", "personas") or {"alice": "approver"}
    names = list(personas)
    state = st.session_state
    wanted = st.query_params.get(PERSONA_PARAM)
    if wanted in names:
        state[PERSONA_WIDGET] = wanted
    elif state.get(PERSONA_WIDGET) not in names:
        for wanted in (state.get(PERSONA_CHOICE), settings.user):
            if wanted in names:
                state[PERSONA_WIDGET] = wanted
                break
        else:
            state[PERSONA_WIDGET] = names[0]

    def changed() -> None:  # the widget's new value goes to the URL before the rerun reads it
        st.query_params[PERSONA_PARAM] = state[PERSONA_WIDGET]

    user = st.sidebar.selectbox(
        "Demo persona",
        names,
        key=PERSONA_WIDGET,
        on_change=changed,
        format_func=lambda n: f"{n} — {personas.get(n, '')}",
        help="Demo mode only: a real deployment takes the signed-in user.",
    )
    state[PERSONA_CHOICE] = user
    if st.query_params.get(PERSONA_PARAM) != user:
        st.query_params[PERSONA_PARAM] = user
    return user


def identity_source(settings: Settings, user: str | None) -> str | None:
    """How ``user`` (what :func:`current_user` returned) was established, for the audit record's
    ``identity``: ``oidc`` (signed in), ``proxy`` (a trusted forwarded header), ``persona`` (the
    demo picker) or ``self-asserted`` (``DRIFTGATE_USER``); None when nobody is signed in."""
    if not user:
        return None
    if _auth_section() is not None and _oidc_email()[1] == user:
        return "oidc"
    if forwarded_user(settings) == user:
        return "proxy"
    return "persona" if settings.demo else "self-asserted"


def current_user(settings: Settings) -> str | None:
    if _auth_section() is not None:  # sign-in configured (even if incompletely): nothing else decides
        return _signed_in_user(settings, sign_in_providers())
    user = forwarded_user(settings)
    if user:
        st.sidebar.caption(f"Signed in as **{_md(user)}**")
        return user
    if settings.demo:
        return demo_persona(settings)
    if settings.user:
        st.sidebar.caption(f"User (DRIFTGATE_USER): **{md(settings.user)}**")
        return settings.user
    st.sidebar.caption("Not signed in: read-only")
    return None


def with_persona(params: dict[str, str]) -> dict[str, str]:
    """``params`` plus this session's demo persona: a link to another page (not only the sidebar's)
    carries it, so the acting user stays who they picked."""
    persona = st.session_state.get(PERSONA_CHOICE)
    return {**params, PERSONA_PARAM: persona} if isinstance(persona, str) and persona else dict(params)


def navigation_params(model: str | None, user: str | None, settings: Settings) -> dict[str, str]:
    """Query parameters every navigation link carries: the model and (demo) the persona."""
    params = {"model": model} if model else {}
    # The persona only while it is who is acting (sign-in or a forwarded header would win).
    return with_persona(params) if settings.demo and user and st.session_state.get(PERSONA_CHOICE) == user else params
