"""MLflow client construction and small normalisations shared by every service.

The client is built with explicit tracking and registry URIs (no global ``mlflow.set_tracking_uri``),
so the app can serve one workspace without leaking state between callers.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from mlflow import MlflowClient
from mlflow.tracking._model_registry import utils as registry_utils
from mlflow.tracking._model_registry.client import ModelRegistryClient
from mlflow.utils.rest_utils import MlflowHostCreds

from services.config import Secret, Settings, redact_uri
from services.errors import BadInput, Unavailable
from services.registry.errors import mlflow_errors

# A dead server must fail in seconds, not after MLflow's default minutes of backoff.
# An operator's explicit environment still wins; otherwise ``[mlflow] http_timeout_seconds`` /
# ``http_retries`` (see :func:`apply_timeouts`).
_OPERATOR_ENV = {
    k
    for k in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT",
    )
    if k in os.environ
}
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
# Artifact downloads must not draw progress bars on a CLI's stderr.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
_SDK_TIMEOUT = [30.0]


def _bound_databricks_sdk() -> None:
    """databricks-sdk (used by MLflow for ``databricks`` URIs and by the registry mirror) retries a
    dead host for 300 s by default, inside ``Config()``, where no caller can pass a limit: give
    every ``Config`` the configured retry and HTTP timeouts unless the caller set them."""
    try:
        from databricks.sdk import config as sdk_config  # optional at run time: only Databricks URIs need it
    except ImportError:  # pragma: no cover - the SDK is pinned in requirements.txt
        return
    cls = sdk_config.Config
    if getattr(cls.__init__, "_driftgate_bounded", False):
        return
    original = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("retry_timeout_seconds") is None:  # MLflow passes None explicitly
            kwargs["retry_timeout_seconds"] = max(1, int(_SDK_TIMEOUT[0]))
        if kwargs.get("http_timeout_seconds") is None:
            kwargs["http_timeout_seconds"] = _SDK_TIMEOUT[0]
        original(self, *args, **kwargs)

    __init__._driftgate_bounded = True  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[method-assign]
    sdk_config.get_host_metadata = _probe_once(sdk_config.get_host_metadata)


def _probe_once(probe: Callable[..., Any], retry_after: float = 60.0) -> Callable[..., Any]:
    """``Config()`` probes ``{host}/.well-known/databricks-config`` (a best-effort discovery) on
    every construction, and MLflow builds several per call: a dead host cost its retry timeout
    three times before the call's own. A host's answer is kept for the process; its failure for
    ``retry_after`` seconds (a long-running app probes a host that was down again later)."""
    answers: dict[str, tuple[Any, BaseException | None, float]] = {}

    def once(host: str, *args: Any, **kwargs: Any) -> Any:
        known = answers.get(host)
        if known is None or (known[1] is not None and time.monotonic() - known[2] > retry_after):
            try:
                known = (probe(host, *args, **kwargs), None, time.monotonic())
            except Exception as exc:  # Config() logs it and falls back to the explicit settings
                known = (None, exc, time.monotonic())
            answers[host] = known
        if known[1] is not None:
            raise known[1]
        return known[0]

    return once


def apply_timeouts(settings: Settings) -> None:
    """Bound every remote call: MLflow's REST client (``[mlflow] http_timeout_seconds``,
    ``http_retries``) and databricks-sdk (``[databricks] timeout_seconds``). Defaults <= 30 s."""
    mlflow_cfg = settings.section("mlflow")
    timeout = str(max(1, math.ceil(mlflow_cfg["http_timeout_seconds"])))
    values = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": timeout,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(mlflow_cfg["http_retries"]),
        # MLflow's own retry loop around databricks-sdk calls (default 500 s)
        "MLFLOW_DATABRICKS_ENDPOINT_HTTP_RETRY_TIMEOUT": timeout,
    }
    for key, value in values.items():
        if key not in _OPERATOR_ENV:
            os.environ[key] = value
    _SDK_TIMEOUT[0] = float(settings.section("databricks")["timeout_seconds"])
    if _uses_databricks(settings):  # importing the SDK costs ~1 s at a CLI start; local stores skip it
        _bound_databricks_sdk()


def _uses_databricks(settings: Settings) -> bool:
    """Whether anything of ``settings`` can reach a Databricks workspace through databricks-sdk:
    a ``databricks`` tracking / registry URI, or a configured workspace host."""
    uris = (str(settings.tracking_uri or ""), str(settings.registry_uri or ""))
    return (
        any(u.startswith("databricks") for u in uris)
        or bool(settings.databricks.host)
        or bool(settings.section("databricks")["mirror_registry"])
        or bool(os.environ.get("DATABRICKS_HOST"))
        or "databricks.sdk" in sys.modules
    )


def make_client(settings: Settings) -> MlflowClient:
    """The MLflow client of ``settings`` (timeouts applied); a tracking or registry URI MLflow
    cannot use is one line (:class:`BadInput`)."""
    apply_timeouts(settings)
    try:
        client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
        client._get_registry_client()  # type: ignore[no-untyped-call]  # an unsupported registry URI fails here
    except Exception as exc:
        raise BadInput(
            f"MLflow URI {redact_uri(settings.tracking_uri)} cannot be used ({type(exc).__name__}); "
            f"expected e.g. http://host:5000, databricks or sqlite:///path"
        ) from None
    return client


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

    def __init__(self, registry_uri: str, tracking_uri: str, store: Any) -> None:
        self.registry_uri = registry_uri
        self.tracking_uri = tracking_uri
        self._user_store = store

    @property
    def store(self) -> Any:
        return self._user_store


class UserMlflowClient(MlflowClient):
    """An ``MlflowClient`` whose registry calls carry one user's Databricks token.

    Tracking calls (runs, metrics, artifacts) still use the app's configured credentials.
    """

    def __init__(self, tracking_uri: str, registry_uri: str, registry_store: Any) -> None:
        super().__init__(tracking_uri=tracking_uri, registry_uri=registry_uri)
        self._user_registry = _UserRegistryClient(str(self._registry_uri), self.tracking_uri, registry_store)

    def user_host_creds(self) -> Any:
        """The ``MlflowHostCreds`` (host, user's token) this client acts with, e.g. for a
        ``databricks-sdk`` call made for the same user. Never log or render it."""
        return self._user_registry.store.get_host_creds()

    def _get_registry_client(self) -> Any:
        return self._user_registry

    def __repr__(self) -> str:
        return f"UserMlflowClient(registry={self._registry_uri!r})"


def _user_host_creds(host: str, token: Secret) -> Callable[[], MlflowHostCreds]:
    def creds() -> MlflowHostCreds:
        # Built per request; plain bearer auth (no Databricks SDK profile/env resolution, which
        # would pick up the app's own credentials).
        return MlflowHostCreds(host, token=token.get(), use_databricks_sdk=False)  # type: ignore[no-untyped-call]

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
    token = Secret(str(user_token).strip())
    host = _databricks_host(settings)
    registry_uri = str(settings.registry_uri)
    try:
        builder = registry_utils._get_store_registry().get_store_builder(registry_uri)  # type: ignore[no-untyped-call]
        store = builder(store_uri=registry_uri, tracking_uri=settings.tracking_uri)
    except Exception as exc:
        raise Unavailable(
            f"cannot build a registry client for {redact_uri(registry_uri)} ({type(exc).__name__})"
        ) from None
    creds = _user_host_creds(host, token)
    store.get_host_creds = creds
    if hasattr(store, "get_tracking_host_creds"):  # Unity Catalog: run look-ups when registering
        store.get_tracking_host_creds = creds
    return UserMlflowClient(settings.tracking_uri, registry_uri, store)


def check_reachable(settings: Settings) -> None:
    """Raise :class:`Unavailable` when the tracking server does not answer a cheap call."""
    with mlflow_errors("the tracking server", uri=settings.tracking_uri):
        make_client(settings).search_experiments(max_results=1)
