"""MLflow client construction and small normalisations shared by every service.

The client is built with explicit tracking and registry URIs (no global ``mlflow.set_tracking_uri``),
so the app can serve one workspace without leaking state between callers.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from mlflow import MlflowClient
from mlflow.tracking._model_registry.client import ModelRegistryClient

from services.config import Secret, Settings, redact_uri
from services.errors import BadInput, Unavailable

# A dead server must fail in seconds, not after MLflow's default minutes of backoff.
# setdefault: an operator's explicit environment still wins.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
# Artifact downloads must not draw progress bars on a CLI's stderr.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def make_client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


def is_databricks_registry(settings: Settings) -> bool:
    """True when the registry is a Databricks workspace registry or Unity Catalog."""
    scheme = urlparse(str(settings.registry_uri or "")).scheme or str(settings.registry_uri or "")
    return scheme in ("databricks", "databricks-uc")


def _databricks_host(settings: Settings) -> str:
    host = (settings.databricks.host or os.environ.get("DATABRICKS_HOST") or "").strip().rstrip("/")
    if not host:
        raise BadInput("the Databricks host is not configured (DATABRICKS_HOST): cannot act for the signed-in user")
    # Databricks Apps exports the bare host name; MLflow needs a scheme.
    return host if "://" in host else f"https://{host}"


class _UserRegistryClient(ModelRegistryClient):
    """A registry client bound to one store instance (MLflow's own would come from a process-wide
    cache keyed on the URI, i.e. with the app's credentials)."""

    def __init__(self, registry_uri: str, tracking_uri: str, store):
        self.registry_uri = registry_uri
        self.tracking_uri = tracking_uri
        self._user_store = store

    @property
    def store(self):
        return self._user_store


class UserMlflowClient(MlflowClient):
    """An ``MlflowClient`` whose registry calls carry one user's Databricks token.

    Tracking calls (runs, metrics, artifacts) still use the app's configured credentials.
    """

    def __init__(self, tracking_uri: str, registry_uri: str, registry_store):
        super().__init__(tracking_uri=tracking_uri, registry_uri=registry_uri)
        self._user_registry = _UserRegistryClient(self._registry_uri, self.tracking_uri, registry_store)

    def user_host_creds(self):
        """The ``MlflowHostCreds`` (host, user's token) this client acts with, e.g. for a
        ``databricks-sdk`` call made for the same user. Never log or render it."""
        return self._user_registry.store.get_host_creds()

    def _get_registry_client(self):
        return self._user_registry

    def __repr__(self) -> str:
        return f"UserMlflowClient(registry={self._registry_uri!r})"


def _user_host_creds(host: str, token: Secret):
    from mlflow.utils.rest_utils import MlflowHostCreds

    def creds() -> MlflowHostCreds:
        # Built per request; plain bearer auth (no Databricks SDK profile/env resolution, which
        # would pick up the app's own credentials).
        return MlflowHostCreds(host, token=token.get(), use_databricks_sdk=False)

    return creds


def make_user_client(settings: Settings, user_token: str | None) -> MlflowClient:
    """A client whose *registry* calls run with the signed-in user's own Databricks token.

    On Databricks (registry URI ``databricks``, ``databricks://profile`` or ``databricks-uc``) with a
    forwarded user token, MLflow's registry store for that URI is built afresh (not the
    process-wide cached one) and its host credentials are replaced by (workspace host, the user's
    token), so workspace / Unity Catalog permissions apply to every registry read and write made
    through this client. Nothing process-global changes (no environment variables), so concurrent
    users in one server never share credentials. Anywhere else, or without a token, this is
    :func:`make_client`. The token is never logged nor put into an error message.
    """
    if not user_token or not is_databricks_registry(settings):
        return make_client(settings)
    from mlflow.tracking._model_registry import utils as registry_utils

    token = Secret(str(user_token).strip())
    host = _databricks_host(settings)
    registry_uri = str(settings.registry_uri)
    try:
        builder = registry_utils._get_store_registry().get_store_builder(registry_uri)
        store = builder(store_uri=registry_uri, tracking_uri=settings.tracking_uri)
    except Exception as exc:  # noqa: BLE001 - never echo anything that could carry the token
        raise Unavailable(f"cannot build a registry client for {redact_uri(registry_uri)} ({type(exc).__name__})") from None
    creds = _user_host_creds(host, token)
    store.get_host_creds = creds
    if hasattr(store, "get_tracking_host_creds"):  # Unity Catalog: run look-ups when registering
        store.get_tracking_host_creds = creds
    return UserMlflowClient(settings.tracking_uri, registry_uri, store)


def normalise_version(version: object) -> str:
    """Model versions come back as int from SQLite stores and as str over REST."""
    if version is None:
        raise ValueError("model version is None")
    text = str(version).strip()
    if not text.isdigit():
        raise ValueError(f"not a model version: {text!r}")
    return str(int(text))


def unavailable(settings: Settings, exc: BaseException) -> Unavailable:
    """A one-line, secret-free error for an unreachable tracking server."""
    kind = type(exc).__name__
    return Unavailable(f"MLflow at {redact_uri(settings.tracking_uri)} cannot be reached ({kind})")


def check_reachable(settings: Settings) -> None:
    """Raise :class:`Unavailable` when the tracking server does not answer a cheap call."""
    try:
        make_client(settings).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not reachable"
        raise unavailable(settings, exc) from None
