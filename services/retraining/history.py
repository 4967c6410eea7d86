"""The trigger's reads from MLflow: the last retraining run (cool-down, schedule), the champion
(as the reference rule of :mod:`services.drift.reference_window` found it: training window and
metrics, the reference after a promotion), and a cheap state fingerprint.

Through :mod:`services.registry`: its error translator and its tag names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from services.config import Settings
from services.drift.reference_window import ChampionRun
from services.errors import DriftGateError
from services.registry import tags
from services.registry.errors import translate
from services.retraining.evidence import delta_version
from services.retraining.policy import UTC, ChampionReference, RetrainingRun

PARENT_TAG = "mlflow.parentRunId"
_RETRAINING_RUNS = f"tags.`{tags.TRIGGER}` LIKE '%'"


def last_retraining_run(client: Any, experiment: str, before: dt.datetime | None = None) -> RetrainingRun | None:
    """The newest parent run of ``experiment`` tagged ``driftgate.trigger`` started at or before
    ``before`` (None when the experiment or such a run does not exist)."""
    try:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return None
        flt = _RETRAINING_RUNS
        if before is not None:
            flt += f" AND attributes.start_time <= {int(before.timestamp() * 1000)}"
        token = None
        while True:
            page = client.search_runs(
                [exp.experiment_id],
                filter_string=flt,
                max_results=200,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
            for run in page:
                if PARENT_TAG in run.data.tags:
                    continue
                return RetrainingRun(
                    run_id=run.info.run_id,
                    run_name=run.info.run_name,
                    started=dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
                    reason=str(run.data.tags.get(tags.TRIGGER, "")),
                )
            token = page.token
            if not token:
                return None
    except DriftGateError:
        raise
    except Exception as exc:
        raise translate(exc, "the retraining history", client) from None


def champion_reference(champ: ChampionRun | None) -> ChampionReference | None:
    """The trigger's view of the champion the reference rule found
    (:func:`services.drift.reference_window.choose_reference`): its training window, logged
    metrics, when it became champion and where its metrics were measured."""
    if champ is None:
        return None
    return ChampionReference(
        champ.version,
        champ.window.start_instant,
        champ.window.end_instant,
        dict(champ.metrics),
        since=_champion_since(champ.version_tags),
        eval_window=champ.run_tags.get(tags.EVAL_WINDOW) or None,
    )


def _champion_since(version_tags: Mapping[str, str]) -> dt.datetime | None:
    text = tags.champion_since(version_tags)
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def state_token(settings: Settings, model: str, client: Any) -> str:
    """A cheap fingerprint of what the decision depends on besides the clock: the newest
    retraining run and, for Delta scoring logs, the table version. Caches key on it so a new
    retraining run or an appended batch shows at once."""
    parts = []
    spec = settings.model_spec(model)
    try:
        exp = client.get_experiment_by_name(spec.experiment if spec else model)
        if exp is not None:
            runs = client.search_runs(
                [exp.experiment_id],
                filter_string=_RETRAINING_RUNS,
                max_results=1,
                order_by=["attributes.start_time DESC"],
            )
            parts.append(runs[0].info.run_id if runs else "-")
    except Exception:
        parts.append("?")
    source = settings.source(spec.source) if spec and spec.source else None
    if source is not None and source.type == "delta" and source.path:
        version = delta_version(settings, str(spec.source if spec else ""))
        parts.append("?" if version is None else str(version))
    return "/".join(parts)
