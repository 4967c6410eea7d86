"""What the Overview page shows, read from MLflow (and the audit log), never hard-coded.

Per registered model: the champion (version, since when, key metrics), the latest retraining run
(parent run with children and its trigger reason), candidates awaiting a decision. A bounded number
of MLflow calls per model: the model itself, the champion version, its run, one version search and
one run search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from services.config import Settings
from services.errors import DriftGateError, NotFound
from services.mlflow_client import normalise_version, unavailable

KEY_METRICS = ("roc_auc", "accuracy", "f1", "brier")
CLOSED_STATUSES = {"rejected", "archived", "previous", "champion"}


@dataclass
class Champion:
    version: str
    since: str | None
    run_id: str | None
    metrics: dict[str, float]
    author: str | None


@dataclass
class RetrainingRun:
    run_id: str
    name: str
    started: str
    status: str
    trigger: str | None
    children: int
    experiment_id: str


@dataclass
class ModelOverview:
    name: str
    lifecycle: str
    champion: Champion | None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    latest_retraining: RetrainingRun | None = None
    description: str = ""


def _when(ms: int | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def champion_version(client: MlflowClient, name: str, lifecycle: str, model=None) -> Any | None:
    """The champion ModelVersion: alias ``champion`` (aliases) or stage Production (stages)."""
    if lifecycle == "aliases":
        try:
            return client.get_model_version_by_alias(name, "champion")
        except MlflowException:
            return None
    model = model or client.get_registered_model(name)
    prod = [v for v in (model.latest_versions or []) if v.current_stage == "Production"]
    return max(prod, key=lambda v: int(v.version)) if prod else None


def _experiment_id(client: MlflowClient, settings: Settings, name: str, champion_run) -> str | None:
    exp_name = settings.model(name).get("experiment")
    if exp_name:
        exp = client.get_experiment_by_name(exp_name)
        if exp is not None:
            return exp.experiment_id
    return champion_run.info.experiment_id if champion_run is not None else None


def latest_retraining_run(client: MlflowClient, experiment_id: str) -> RetrainingRun | None:
    """The most recent run that has children (a retraining parent run), from one run search."""
    runs = client.search_runs([experiment_id], order_by=["attributes.start_time DESC"], max_results=500)
    children: dict[str, int] = {}
    for r in runs:
        parent = r.data.tags.get("mlflow.parentRunId")
        if parent:
            children[parent] = children.get(parent, 0) + 1
    for r in runs:  # newest first
        if r.info.run_id in children:
            return RetrainingRun(
                run_id=r.info.run_id, name=r.info.run_name or r.info.run_id[:8],
                started=_when(r.info.start_time) or "", status=r.info.status,
                trigger=r.data.tags.get("driftgate.trigger"), children=children[r.info.run_id],
                experiment_id=experiment_id,
            )
    return None


def model_overview(client: MlflowClient, settings: Settings, name: str) -> ModelOverview:
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or "not found" in str(exc).lower():
            raise NotFound(f"registered model {name!r} not found") from None
        raise unavailable(settings, exc) from None
    except Exception as exc:  # noqa: BLE001
        raise unavailable(settings, exc) from None

    lifecycle = settings.lifecycle
    champ_mv = champion_version(client, name, lifecycle, model)
    champion = None
    champ_run = None
    if champ_mv is not None:
        if champ_mv.run_id:
            try:
                champ_run = client.get_run(champ_mv.run_id)
            except MlflowException:
                champ_run = None
        metrics = {k: v for k, v in (champ_run.data.metrics.items() if champ_run else []) if k in KEY_METRICS}
        tags = champ_mv.tags or {}
        champion = Champion(
            version=normalise_version(champ_mv.version),
            since=tags.get("driftgate.champion_since") or _when(champ_mv.last_updated_timestamp),
            run_id=champ_mv.run_id, metrics=metrics,
            author=tags.get("driftgate.author") or (champ_run.data.tags.get("mlflow.user") if champ_run else None),
        )

    candidates = []
    for mv in client.search_model_versions(f"name = '{_quote(name)}'", max_results=200):
        version = normalise_version(mv.version)
        tags = mv.tags or {}
        status = tags.get("driftgate.status", "candidate")
        if champion and version == champion.version:
            continue
        if status in CLOSED_STATUSES or mv.current_stage in ("Archived", "Production"):
            continue
        candidates.append({
            "version": version, "author": tags.get("driftgate.author"), "status": status,
            "created": _when(mv.creation_timestamp), "run_id": mv.run_id,
            "description": mv.description or "",
        })
    candidates.sort(key=lambda c: int(c["version"]))

    exp_id = _experiment_id(client, settings, name, champ_run)
    retraining = latest_retraining_run(client, exp_id) if exp_id else None
    return ModelOverview(name=name, lifecycle=lifecycle, champion=champion, candidates=candidates,
                         latest_retraining=retraining, description=model.description or "")


def drift_verdict(settings: Settings, client: MlflowClient, name: str) -> dict[str, Any] | None:
    """The latest dataset drift verdict of the model's scoring log (reference window vs the most
    recent window), or None when the model has no configured data source."""
    if not settings.model(name).get("source"):
        return None
    from services.drift.model import model_drift_report

    report = model_drift_report(settings, name, client=client)
    return {
        "drifted": report["dataset"]["drifted"],
        "drift_share": report["dataset"]["drift_share"],
        "weighted_drift_share": report["dataset"].get("weighted_drift_share"),
        "drifted_features": [f["feature"] for f in report["features"] if f["drifted"]],
        "total_features": report["dataset"]["total_features"],
        "reference": report["reference"].get("window"),
        "current": report["current"].get("window"),
    }


def _quote(value: str) -> str:
    """Escape a value for an MLflow search filter string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def recent_audit(settings: Settings, model: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """Recent audit records (newest first) from the audit store; [] before any decision."""
    try:
        from services import audit
    except ImportError:  # the audit store arrives with the promotion gate
        return []
    try:
        records = audit.recent_records(settings, model=model, limit=limit)
    except DriftGateError:
        raise
    return sorted(records, key=lambda r: r.get("at") or "", reverse=True)[:limit]
