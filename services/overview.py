"""What the Overview page shows, read from MLflow (and the audit log), never hard-coded.

Per registered model: the champion (version, since when, key metrics), the latest retraining run
(parent run with children and its trigger reason), candidates awaiting a decision (version states
from the lifecycle adapter, stages or aliases). A bounded number of MLflow calls per model: the
model, one version listing, the champion's run and one run search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from services.config import Settings
from services.drift.model import model_drift_report
from services.errors import DriftGateError
from services.promotion import audit
from services.registry import tags
from services.registry.errors import mlflow_errors
from services.registry.lifecycle import VersionView, make_lifecycle
from services.registry.runs import ParentRun, retraining_runs
from services.registry.views import registered_at

KEY_METRICS = ("roc_auc", "accuracy", "f1", "brier")


@dataclass
class Champion:
    version: str
    since: str | None
    run_id: str | None
    metrics: dict[str, float]
    author: str | None
    restored: str | None = None  # when a rollback made it champion again (its period resumed)


@dataclass
class ModelOverview:
    name: str
    lifecycle: str
    champion: Champion | None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    latest_retraining: ParentRun | None = None
    description: str = ""
    experiment: str | None = None  # the experiment's name (what the pages' ?experiment= takes)


def _experiment(
    client: MlflowClient, settings: Settings, name: str, champion_run: Run | None
) -> tuple[str, str] | None:
    """(id, name) of the model's experiment: the configured one, else the champion run's. The
    pages' ``?experiment=`` takes the name."""
    exp_name = settings.model(name).get("experiment")
    if exp_name:
        exp = client.get_experiment_by_name(exp_name)
        if exp is not None:
            return exp.experiment_id, exp.name
    if champion_run is None:
        return None
    exp_id = champion_run.info.experiment_id
    return exp_id, client.get_experiment(exp_id).name


def latest_retraining_run(client: MlflowClient, experiment_id: str) -> ParentRun | None:
    """The most recent retraining (parent) run, grouped by the same rule as the Runs page."""
    parents = retraining_runs(client, experiment_id).parents  # most recent first
    return parents[0] if parents else None


def model_overview(client: MlflowClient, settings: Settings, name: str) -> ModelOverview:
    """Champion, candidates and latest retraining run of ``name`` under the configured lifecycle."""
    lifecycle = make_lifecycle(settings, client, name)
    with mlflow_errors(f"registered model {name!r}", client):
        model = client.get_registered_model(name)
        views = lifecycle.versions()

    champion = None
    champ_run = None
    champ_view = next((v for v in views if v.state == "champion"), None)
    if champ_view is not None:
        if champ_view.run_id:
            try:
                champ_run = client.get_run(champ_view.run_id)
            except MlflowException:
                champ_run = None
        metrics = {k: v for k, v in (champ_run.data.metrics.items() if champ_run else []) if k in KEY_METRICS}
        since, restored = champion_since(settings, name, views, champ_view)
        champion = Champion(
            version=champ_view.version,
            since=since,
            restored=restored,
            run_id=champ_view.run_id,
            metrics=metrics,
            author=champ_view.created_by,
        )
    candidates = [
        {
            "version": v.version,
            "author": v.created_by,
            "created": _when_iso(registered_at(v)),
            "stage": v.stage,
            "aliases": ", ".join(v.aliases),
        }
        for v in views
        if v.state == "candidate"
    ]
    experiment = _experiment(client, settings, name, champ_run)
    retraining = latest_retraining_run(client, experiment[0]) if experiment else None
    return ModelOverview(
        name=name,
        lifecycle=settings.lifecycle,
        champion=champion,
        candidates=candidates,
        latest_retraining=retraining,
        description=model.description or "",
        experiment=experiment[1] if experiment else None,
    )


def champion_since(
    settings: Settings, model: str, views: list[VersionView], champ_view: VersionView
) -> tuple[str | None, str | None]:
    """(when the current champion's period began, when a rollback resumed it or None).

    From the audit history (its approval) when DriftGate made it champion, else its
    ``driftgate.champion_since`` tag (the demo's seeded history), else its registration. A rollback
    to it resumes its period: the start stays when it first became champion (the evidence against
    it since then still counts, see the trigger), and the rollback's time is returned beside it."""
    try:
        records = audit.query(settings, model=model, limit=1000)
    except DriftGateError:
        records = []
    now = datetime.now(UTC).isoformat()
    periods = [p for p in audit.champion_history(records, views, now) if str(p["version"]) == str(champ_view.version)]
    tagged = tags.champion_since(champ_view.tags) or registered_at(champ_view)
    if not periods:
        return tagged, None
    last = periods[-1]
    if last["via"] != "rollback":
        return str(last["start"]), None
    # Resumed: its approval (or seeded start) in the history, else its tag; never after the rollback.
    earlier = [str(p["start"]) for p in periods[:-1]]
    start = earlier[-1] if earlier else (tagged or str(last["start"]))
    return start, str(last["start"])


def _when_iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def drift_verdict(settings: Settings, client: MlflowClient, name: str) -> dict[str, Any] | None:
    """The latest dataset drift verdict of the model's scoring log (reference window vs the most
    recent window), or None when the model has no configured data source."""
    if not settings.model(name).get("source"):
        return None
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


def recent_audit(settings: Settings, model: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
    """Recent audit records, newest first; [] before any decision."""
    return list(reversed(audit.recent_records(settings, model=model, limit=limit)))
