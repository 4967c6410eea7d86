"""MLflow client construction and small normalisations shared by every service.

The client is built with explicit tracking and registry URIs (no global ``mlflow.set_tracking_uri``),
so the app can serve one workspace without leaking state between callers.
"""

from __future__ import annotations

import os

from mlflow import MlflowClient

from services.config import Settings, redact_uri
from services.errors import Unavailable

# A dead server must fail in seconds, not after MLflow's default minutes of backoff.
# setdefault: an operator's explicit environment still wins.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
# Artifact downloads must not draw progress bars on a CLI's stderr.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def make_client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


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
