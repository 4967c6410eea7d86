"""Retraining trigger (spec: "Retraining trigger contract"): is retraining due for a model, and why.

The trigger is separate from promotion: it only says *whether retraining is due* and why.
It never trains or promotes anything (that is :mod:`services.retraining.retrain` and the gate).

How a decision is made, for one registered model ``M`` (config ``[models.M]``):

1. The scoring log (``source``) is cut into windows (daily by default, aligned to UTC midnight);
   the last ``lookback_windows`` complete windows up to ``as_of`` are evaluated.
2. Per window (:mod:`services.retraining.evidence`):
   * **dataset drift** of the model's ``features`` against the reference window
     (``reference_window``, or the current champion's training window after a promotion: the
     drift report's rule, :func:`services.drift.reference_window.choose_reference`) —
     computed by the drift engine, never here; the window breaches when
     ``drift_share >= drift_share_threshold``;
   * **performance** of ``prediction`` vs the delayed ``label`` (``roc_auc`` by default, or
     ``accuracy``); the window breaches when ``reference - value >= performance_drop_threshold``,
     where the reference is the champion's performance in the reference window.
   A window without rows, or without enough labelled rows, is *no evidence* for that signal —
   never a breach.
3. Persistence (:func:`services.retraining.policy.decide`): retraining is due when the most
   recent ``consecutive_windows`` windows all breached (an empty window — a gap in the log —
   breaks the streak: no retraining on missing evidence), or when the optional ``schedule_days``
   have passed since the last retraining run.
4. Cool-down: never due within ``cooldown_days`` after the last retraining run = the newest parent
   run of the model's experiment tagged ``driftgate.trigger`` (started at or before ``as_of``;
   :mod:`services.retraining.history`).

Policy keys (``[trigger]``, overridable per model in ``[models.M.trigger]``): see
:class:`~services.retraining.policy.TriggerPolicy`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from services.config import Settings
from services.drift.reference_window import CHAMPION, choose_reference
from services.numbers import finite_or_none
from services.registry.mlflow_client import make_client
from services.retraining.evidence import (
    ScoringLog,
    by_start,
    check_scoring_log,
    drift_per_window,
    estimated_evidence,
    performance_per_window,
    rows_per_window,
    scoring_log,
)
from services.retraining.history import champion_reference, last_retraining_run, state_token
from services.retraining.policy import (
    UNITS,
    UTC,
    ChampionReference,
    Decision,
    Evidence,
    RetrainingRun,
    TriggerPolicy,
    TriggerWindow,
    decide,
    empty_windows,
    hold_from_promotion,
    mark_windows,
    parse_as_of,
    window_end,
    window_floor,
)

__all__ = [
    "Decision",
    "RetrainingRun",
    "TriggerPolicy",
    "TriggerWindow",
    "decide",
    "evaluate",
    "parse_as_of",
    "state_token",
]


def evaluate(
    settings: Settings,
    model: str,
    *,
    as_of: dt.datetime | str | None = None,
    policy: TriggerPolicy | None = None,
    client: Any = None,
) -> Decision:
    """Evaluate the trigger policy for ``model`` (spec: retraining trigger contract).

    ``as_of``: evaluate as if it were this instant (default: now, or — when the log already holds
    later events, as after ``demo advance`` — the end of the window of the latest event). Only
    complete windows ending at or before ``as_of`` and retraining runs started before it count.
    Raises BadInput/NotFound (exit 2) for bad configuration or a missing scoring log, Unavailable
    when MLflow cannot be reached.
    """
    log = scoring_log(settings, model)
    policy = policy or TriggerPolicy.from_settings(settings, model)
    policy.validate()
    width = policy.window_width
    metric = policy.performance_metric
    newest = check_scoring_log(settings, log)
    as_of_dt = _as_of(as_of, newest, width)
    windows = empty_windows(window_floor(as_of_dt, width), policy)
    first, last = windows[0].start.date(), (windows[-1].end - dt.timedelta(days=1)).date()
    client = client or make_client(settings)

    notes: list[str] = []
    champion_perf: float | None = None
    chosen = choose_reference(settings, model, client, policy.reference)
    champ = champion_reference(chosen.champion)
    if champ is not None and chosen.source == CHAMPION:
        log = dataclasses.replace(log, spec=log.spec.with_reference(chosen.window))
        champion_perf = finite_or_none(champ.metrics.get(metric))
        notes.append(_champion_note(champ, metric, champion_perf))

    can_drift = True
    if log.spec.reference.start is None or log.spec.reference.end is None:
        notes.append(f"no reference window configured ([models.{model}] reference_window): drift not evaluated")
        can_drift = False
    elif not log.spec.features:
        notes.append(f"no features configured ([models.{model}] features): drift not evaluated")
        can_drift = False
    if not log.has_labels:
        notes.append(f"no label/prediction columns configured ([models.{model}]): {metric} not evaluated")

    evidence, ref_perf = _evidence(settings, log, policy, first, last, can_drift, champion_perf, notes)
    mark_windows(windows, evidence, policy, metric, ref_perf)
    held = hold_from_promotion(windows, champ)
    if held:
        notes.insert(0, held)

    return decide(
        model,
        windows,
        policy,
        as_of=as_of_dt,
        last_run=last_retraining_run(client, log.spec.experiment, before=as_of_dt),
        metric=metric,
        reference_performance=ref_perf,
        reference_window=log.spec.reference.bounds,
        last_event=newest,
        notes=notes,
        reference_source=chosen.label,
    )


def _as_of(value: dt.datetime | str | None, newest: dt.date | None, width: dt.timedelta) -> dt.datetime:
    """The evaluation instant: ``value``, else now — or, when the log already holds later events
    (a log ahead of the clock, as after ``demo advance``), the end of the newest event's window."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    parsed = parse_as_of(value)
    if parsed is not None:
        return parsed
    now = dt.datetime.now(UTC)
    if newest is not None and newest >= now.date():
        return window_end(dt.datetime.combine(newest, dt.time(), tzinfo=UTC), width)
    return now


def _champion_note(champ: ChampionReference, metric: str, perf: float | None) -> str:
    return (
        f"reference: champion v{champ.version}'s training window "
        f"{champ.start.date().isoformat()}..{(champ.end - dt.timedelta(days=1)).date().isoformat()}"
        + (f" and its logged {metric} {perf:.3f}" if perf is not None else "")
        + (f" (measured on {champ.eval_window})" if perf is not None and champ.eval_window else "")
    )


def _evidence(
    settings: Settings,
    log: ScoringLog,
    policy: TriggerPolicy,
    first: dt.date,
    last: dt.date,
    can_drift: bool,
    champion_perf: float | None,
    notes: list[str],
) -> tuple[Evidence, float | None]:
    """The windows' evidence and the performance reference (configured, the champion's logged
    metric, or its performance measured in the reference window); notes appended to ``notes``."""
    unit, metric = UNITS[policy.window_width], policy.performance_metric
    rows = rows_per_window(settings, log, first, last, unit)
    drift = None
    if can_drift:
        drift, note = drift_per_window(settings, log, first, last, unit) if rows else ({}, None)
        notes.extend([note] if note else [])
    perf_doc = None
    if log.has_labels:
        perf_doc, note = performance_per_window(settings, log, first, last, unit)
        notes.extend([note] if note else [])

    ref_perf = policy.reference_performance if policy.reference_performance is not None else champion_perf
    if ref_perf is None and perf_doc is not None:
        ref = perf_doc.get("reference") or {}
        if (ref.get("labelled") or 0) >= policy.min_labels:
            ref_perf = finite_or_none(ref.get(metric))
        if ref_perf is None:
            notes.append(
                f"no labelled reference performance ({metric}) in the reference window: performance drop not evaluated"
            )
    est_doc = None
    if log.has_labels:
        est_doc, note = estimated_evidence(settings, log, unit, first, last)
        notes.extend([note] if note else [])
    evidence = Evidence(
        rows=rows,
        drift=_dated(drift) if drift is not None else None,
        performance=_dated(by_start(perf_doc)) if log.has_labels else None,
        estimates=_dated(by_start(est_doc)),
        estimate_doc=est_doc,
    )
    return evidence, ref_perf


def _dated(doc: dict[dt.date | None, Any]) -> dict[dt.date, Any]:
    return {k: v for k, v in doc.items() if k is not None}
