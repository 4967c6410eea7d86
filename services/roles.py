"""Roles and identity: pure functions (no Streamlit), used by the app, the CLI and approvals.

Config::

    [roles]
    approvers = ["alice", "bob@example.com"]   # may approve, reject and roll back
    viewers = ["carol"]                        # informational; everyone may view
    identity_headers = ["X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User"]

Users are compared case-insensitively. An e-mail matches a bare name listed in the config when
its local part equals it (``alice@corp.com`` ~ ``alice``) only if ``[roles] match_local_part =
true`` (default false: exact match).

Roles: ``approver`` (from the config), ``author`` (relative to a version: who created it; may
request review and reject their own candidate, never approve it), ``viewer`` (everyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

APPROVER = "approver"
AUTHOR = "author"
VIEWER = "viewer"

DEFAULT_IDENTITY_HEADERS = ("X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User")
TOKEN_HEADER = "X-Forwarded-Access-Token"  # Databricks Apps: the signed-in user's own token


def _norm(user: object) -> str:
    return str(user or "").strip().lower()


def _config(settings) -> dict[str, Any]:
    return settings.section("roles") if settings is not None else {}


def _listed(settings, user: str, key: str) -> bool:
    cfg = _config(settings)
    names = {_norm(u) for u in (cfg.get(key) or [])}
    u = _norm(user)
    if not u:
        return False
    if u in names:
        return True
    return bool(cfg.get("match_local_part")) and "@" in u and u.split("@", 1)[0] in names


def same_user(a: object, b: object) -> bool:
    """True when ``a`` and ``b`` name the same person (case-insensitive; e-mail local part too)."""
    x, y = _norm(a), _norm(b)
    if not x or not y:
        return False
    if x == y:
        return True
    return x.split("@", 1)[0] == y.split("@", 1)[0] and ("@" in x) != ("@" in y)


def roles_for(settings, user: str | None, author: str | None = None) -> set[str]:
    """The roles of ``user``; ``author`` (the version's creator) adds ``author`` when it is them."""
    if not _norm(user):
        return set()
    out = {VIEWER}
    if _listed(settings, user, "approvers"):
        out.add(APPROVER)
    if author and same_user(user, author):
        out.add(AUTHOR)
    return out


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def can_approve(settings, user: str | None, author: str | None) -> Permission:
    """Approver role and never the candidate's own author (four-eyes)."""
    if not _norm(user):
        return Permission(False, "sign in to approve")
    roles = roles_for(settings, user, author)
    if APPROVER not in roles:
        return Permission(False, f"{user} does not hold the approver role")
    if AUTHOR in roles:
        return Permission(False, f"four-eyes rule: {user} authored this version and cannot approve it")
    return Permission(True, f"{user} may approve")


def can_reject(settings, user: str | None, author: str | None) -> Permission:
    if not _norm(user):
        return Permission(False, "sign in to reject")
    roles = roles_for(settings, user, author)
    if APPROVER in roles or AUTHOR in roles:
        return Permission(True, f"{user} may reject")
    return Permission(False, f"{user} is neither an approver nor this version's author")


def can_rollback(settings, user: str | None) -> Permission:
    if not _norm(user):
        return Permission(False, "sign in to roll back")
    if APPROVER in roles_for(settings, user):
        return Permission(True, f"{user} may roll back")
    return Permission(False, f"{user} does not hold the approver role")


def can_request(settings, user: str | None, author: str | None) -> Permission:
    if not _norm(user):
        return Permission(False, "sign in to request a review")
    roles = roles_for(settings, user, author)
    if AUTHOR in roles or APPROVER in roles:
        return Permission(True, f"{user} may request a review")
    return Permission(False, f"{user} is neither an approver nor this version's author")


# -- identity (pure; components/identity.py feeds it st.user / st.context.headers) ------------
@dataclass(frozen=True)
class Identity:
    user: str | None
    source: str  # "oidc" | "header" | "env" | "persona" | "none"
    token: str | None = None  # forwarded user token (Databricks Apps); never shown

    def __repr__(self) -> str:  # keep the token out of logs
        return f"Identity(user={self.user!r}, source={self.source!r}, token={'set' if self.token else 'unset'})"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for k, v in headers.items():
        if str(k).lower() == name.lower() and str(v).strip():
            return str(v).strip()
    return None


def identity_from(
    settings,
    oidc_user: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    env_user: str | None = None,
) -> Identity:
    """Who is signed in: OIDC (``st.user``: ``is_logged_in`` + email/name) first, then the e-mail a
    reverse proxy / Databricks Apps forwards, then ``DRIFTGATE_USER`` (local runs)."""
    if oidc_user and oidc_user.get("is_logged_in"):
        who = oidc_user.get("email") or oidc_user.get("preferred_username") or oidc_user.get("name")
        if who:
            return Identity(str(who), "oidc")
    names = _config(settings).get("identity_headers") or DEFAULT_IDENTITY_HEADERS
    for name in names:
        who = _header(headers, name)
        if who:
            return Identity(who, "header", _header(headers, TOKEN_HEADER))
    if env_user:
        return Identity(env_user, "env")
    return Identity(None, "none")
