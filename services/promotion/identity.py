"""Who a CLI decision is made by: the identity the tracking server authenticated, else ``--user``.

* **MLflow tracking server with authentication** (``mlflow server --app-name basic-auth``; the
  CLI sends ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``, or
  ``~/.mlflow/credentials``, or ``MLFLOW_TRACKING_TOKEN``): the server says who it authenticated
  (``GET /api/2.0/mlflow/users/current``). That user is the one audited (identity ``mlflow``).
  Before a registry-changing decision the server is also asked for that user's effective
  permission on the registered model (``GET /api/3.0/mlflow/users/permissions/get``): the
  transition deletes aliases and tags, which MLflow allows with ``MANAGE`` only, so a user
  holding less is refused up front (exit 3, audited, nothing changed) instead of failing midway.
* **Databricks** (registry ``databricks``, ``databricks://profile`` or ``databricks-uc``): the
  Databricks SDK's current user (``current_user.me()``) with the same credentials MLflow uses
  (identity ``databricks``); Databricks enforces the registry permissions itself.
* **Anything else** (a local store, a server without authentication): nobody verified who is
  typing, so ``--user`` (or ``DRIFTGATE_USER``) is recorded as ``self-asserted``.

A ``--user`` naming someone other than the authenticated identity is refused: exit 3 with one
line on stderr, audited under the authenticated user (an attempt to decide as someone else is
worth a record), registry untouched. ``DRIFTGATE_USER`` is only a default and is ignored when the
server authenticated someone. No password or token ever reaches a message.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from services.config import Settings, redact_uri
from services.errors import BadInput, Refused, Unavailable
from services.promotion import audit
from services.promotion.roles import clean_identity, identity_key
from services.registry.errors import mlflow_errors
from services.registry.lifecycle import utc_now

MLFLOW = "mlflow"
DATABRICKS = "databricks"
SELF_ASSERTED = "self-asserted"
CURRENT_USER = "/api/2.0/mlflow/users/current"
USER_PERMISSION = "/api/3.0/mlflow/users/permissions/get"
#: The MLflow permission a registry-changing decision needs (alias and tag deletes are MANAGE).
NEEDED_PERMISSION = "MANAGE"


@dataclass(frozen=True)
class CliIdentity:
    user: str | None
    source: str  # "mlflow" | "databricks" | "self-asserted"

    @property
    def authenticated(self) -> bool:
        return self.source != SELF_ASSERTED


def _scheme(uri: str) -> str:
    return urlparse(uri).scheme or uri


# -- MLflow tracking server authentication ---------------------------------------------------------
def _host_creds(uri: str) -> Any:
    return get_default_host_creds(uri)  # type: ignore[no-untyped-call]


def _sends_credentials(creds: Any) -> bool:
    return bool(creds.username or creds.token or creds.auth)


def _get(uri: str, endpoint: str, params: dict[str, Any] | None = None) -> Any:
    with mlflow_errors("the tracking server", uri=uri):
        return http_request(_host_creds(uri), endpoint, "GET", params=params, max_retries=0, timeout=15)  # type: ignore[no-untyped-call]


def _mlflow_user(uri: str) -> tuple[str, bool] | None:
    """``(user, is_admin)`` the MLflow server authenticated, or None when it does not
    authenticate (no ``users/current`` endpoint)."""
    resp = _get(uri, CURRENT_USER)
    if resp.status_code in (401, 403):
        raise BadInput(
            f"MLflow at {redact_uri(uri)} rejected the credentials "
            "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)"
        )
    if resp.status_code != 200:
        return None  # a server without the auth app: nothing verified who is typing
    try:
        user = resp.json().get("user") or {}
    except ValueError:
        return None
    name = str(user.get("username") or "").strip()
    return (name, bool(user.get("is_admin"))) if name else None


def registry_permission(settings: Settings, user: str, model: str) -> str | None:
    """``user``'s effective MLflow permission on registered model ``model`` (READ / EDIT /
    MANAGE / NO_PERMISSIONS ...), or None when the server has no permission API."""
    uri = str(settings.registry_uri)
    resp = _get(uri, USER_PERMISSION, {"username": user, "resource_type": "registered_model", "resource_id": model})
    if resp.status_code != 200:
        return None
    try:
        return str(resp.json().get("permission") or "") or None
    except ValueError:
        return None


# -- Databricks ------------------------------------------------------------------------------------
def _databricks_user(settings: Settings, uri: str) -> str:
    try:
        # lazy: databricks-sdk's import costs 3.6 s (measured, load 42) and only Databricks needs it
        from databricks.sdk import WorkspaceClient

        profile = urlparse(uri).netloc if "://" in uri else ""
        db = settings.databricks
        if profile:
            w = WorkspaceClient(profile=profile)
        elif db.host and db.token:
            w = WorkspaceClient(
                host=db.host if "://" in db.host else f"https://{db.host}", token=db.token.get(), auth_type="pat"
            )
        else:
            w = WorkspaceClient()
        me = w.current_user.me()
    except Exception as exc:
        raise Unavailable(f"Databricks did not say who is signed in ({type(exc).__name__})") from None
    name = str(me.user_name or "").strip()
    if not name:
        raise Unavailable("Databricks did not say who is signed in (no user name)")
    return name


@dataclass(frozen=True)
class _Authenticated:
    user: str
    source: str
    is_admin: bool = False


def authenticated_user(settings: Settings) -> _Authenticated | None:
    """Who the registry server authenticated, or None when it does not authenticate the caller."""
    uri = str(settings.registry_uri or settings.tracking_uri)
    scheme = _scheme(uri)
    if scheme in ("databricks", "databricks-uc"):
        return _Authenticated(_databricks_user(settings, uri), DATABRICKS)
    if scheme in ("http", "https") and _sends_credentials(_host_creds(uri)):
        found = _mlflow_user(uri)
        return _Authenticated(found[0], MLFLOW, found[1]) if found else None
    return None


# -- the CLI's decision identity ---------------------------------------------------------------
def _refuse(
    settings: Settings, action: str, model: str, version: str | None, user: str, source: str, reason: str
) -> None:
    rec = {
        "at": utc_now(),
        "user": user,
        "action": action,
        "outcome": "refused",
        "model": model,
        "version": version,
        "reason": reason,
        "identity": source,
    }
    with contextlib.suppress(Exception):  # the audit store failing must not hide the refusal
        audit.append(settings, rec)
    raise Refused(reason)


def resolve(
    settings: Settings,
    claimed: str | None,
    *,
    action: str,
    model: str,
    version: str | None = None,
    writes_registry: bool = True,
) -> CliIdentity:
    """The identity a CLI decision runs as (see module doc); refuses (exit 3) a ``--user`` that
    is not the authenticated user and, on an MLflow server, a user without ``MANAGE`` on the model."""
    claimed = clean_identity(claimed) if claimed else None  # control characters etc.: exit 2
    auth = authenticated_user(settings)
    if auth is None:
        return CliIdentity(claimed or settings.user or None, SELF_ASSERTED)
    user, source = auth.user, auth.source
    reason = None
    if claimed and identity_key(claimed) != identity_key(user):
        reason = (
            f"--user {claimed} is not who the tracking server authenticated ({user}): "
            "decisions are recorded as the authenticated user; drop --user"
        )
    elif source == MLFLOW and writes_registry and not auth.is_admin:
        permission = registry_permission(settings, user, model)
        if permission is not None and permission != NEEDED_PERMISSION:
            reason = (
                f"{user} may not change registered model {model} on the tracking server "
                f"(MLflow permission {permission}; {action} needs {NEEDED_PERMISSION})"
            )
    if reason is not None:
        _refuse(settings, action, model, version, user, source, reason)
    return CliIdentity(user, source)
