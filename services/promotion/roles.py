"""Roles and identity: pure functions (no Streamlit), used by the app, the CLI and approvals.

Config::

    [roles]
    approvers = ["alice", "bob@example.com"]   # may approve, reject and roll back
    viewers = ["carol"]                        # informational; everyone may view
    identity_headers = ["X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User"]

Users are compared through one normalisation, :func:`identity_key` (NFKC, case-folded). An e-mail matches a bare name listed in the config when
its local part equals it (``alice@corp.com`` ~ ``alice``) only if ``[roles] match_local_part =
true`` (default false: exact match).

Roles: ``approver`` (from the config), ``author`` (relative to a version: who created it; may
request review and reject their own candidate, never approve it), ``viewer`` (everyone).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.config import Settings
from services.errors import BadInput

APPROVER = "approver"
AUTHOR = "author"
VIEWER = "viewer"

DEFAULT_IDENTITY_HEADERS = ("X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-User")
TOKEN_HEADER = "X-Forwarded-Access-Token"  # Databricks Apps: the signed-in user's own token


USER_MAX = 320
_BAD_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")  # control, format (zero-width, bidi), line/paragraph separators


def identity_key(user: object) -> str:
    """The one normalisation every identity comparison uses (roles, votes, four-eyes):
    Unicode NFKC, surrounding blanks stripped, case-folded. ``ALICE``, ``alice`` and
    ``ａｌｉｃｅ`` are one person."""
    return unicodedata.normalize("NFKC", str(user or "")).strip().casefold()


_norm = identity_key


def clean_identity(user: object) -> str:
    """A user name as given (blanks stripped), or :class:`BadInput` when it is empty, too long or
    carries control / invisible characters (a ``\r\n`` in a name could forge audit lines)."""
    text = str(user or "").strip()
    if not text:
        raise BadInput("a user is required (--user, DRIFTGATE_USER or sign in)")
    if any(unicodedata.category(ch) in _BAD_CATEGORIES for ch in text):
        raise BadInput("user name contains control or invisible characters")
    if len(text) > USER_MAX:
        raise BadInput("user name too long")
    return text


def _config(settings: Settings | None) -> dict[str, Any]:
    return settings.section("roles") if settings is not None else {}


def _match_local_part(settings: Settings | None) -> bool:
    if settings is None:
        return False
    return bool(_config(settings).get("match_local_part")) or bool(settings.section("auth").get("match_local_part"))


def _listed(settings: Settings | None, user: str, key: str) -> bool:
    cfg = _config(settings)
    names = {_norm(u) for u in (cfg.get(key) or [])}
    u = _norm(user)
    if not u:
        return False
    if u in names:
        return True
    return _match_local_part(settings) and "@" in u and u.split("@", 1)[0] in names


def same_user(a: object, b: object) -> bool:
    """True when ``a`` and ``b`` may name the same person (:func:`identity_key`; an e-mail also
    matches its bare local part). Used where "same" must err on the safe side: four-eyes and
    counting distinct approvers."""
    x, y = _norm(a), _norm(b)
    if not x or not y:
        return False
    if x == y:
        return True
    return x.split("@", 1)[0] == y.split("@", 1)[0] and ("@" in x) != ("@" in y)


def distinct_users(users: Iterable[object]) -> list[str]:
    """``users`` without repeats of one person (:func:`same_user`), first spelling kept."""
    out: list[str] = []
    for u in users:
        if _norm(u) and not any(same_user(u, seen) for seen in out):
            out.append(str(u))
    return out


def _authors(author: object) -> list[str]:
    """Authors from a name, a list of names, or a VersionView-like object (``.authors``)."""
    if author is None:
        return []
    if hasattr(author, "authors"):
        many = list(author.authors or ())
        one = getattr(author, "created_by", None)
        return distinct_users([*many, *([one] if one else [])])
    if isinstance(author, str):
        return [author]
    return distinct_users(author)  # type: ignore[arg-type]


def roles_for(settings: Settings | None, user: str | None, author: object = None) -> set[str]:
    """The roles of ``user``; ``author`` (a name, a list of the version's authors, or the
    VersionView itself) adds ``author`` when any of them is this user."""
    if not _norm(user):
        return set()
    out = {VIEWER}
    if _listed(settings, str(user), "approvers"):
        out.add(APPROVER)
    if any(same_user(user, a) for a in _authors(author)):
        out.add(AUTHOR)
    return out


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def can_approve(settings: Settings | None, user: str | None, author: object) -> Permission:
    """Approver role and never the candidate's own author (four-eyes)."""
    if not _norm(user):
        return Permission(False, "sign in to approve")
    roles = roles_for(settings, user, author)
    if APPROVER not in roles:
        return Permission(False, f"{user} does not hold the approver role")
    if AUTHOR in roles:
        return Permission(False, f"four-eyes rule: {user} authored this version and cannot approve it")
    return Permission(True, f"{user} may approve")


def _approver_or_author(settings: Settings | None, user: str | None, author: object, what: str) -> Permission:
    if not _norm(user):
        return Permission(False, f"sign in to {what}")
    roles = roles_for(settings, user, author)
    if APPROVER in roles or AUTHOR in roles:
        return Permission(True, f"{user} may {what}")
    return Permission(False, f"{user} is neither an approver nor this version's author")


def can_reject(settings: Settings | None, user: str | None, author: object) -> Permission:
    return _approver_or_author(settings, user, author, "reject")


def can_rollback(settings: Settings | None, user: str | None) -> Permission:
    if not _norm(user):
        return Permission(False, "sign in to roll back")
    if APPROVER in roles_for(settings, user):
        return Permission(True, f"{user} may roll back")
    return Permission(False, f"{user} does not hold the approver role")


def can_request(settings: Settings | None, user: str | None, author: object) -> Permission:
    return _approver_or_author(settings, user, author, "request a review")


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
    settings: Settings | None,
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
