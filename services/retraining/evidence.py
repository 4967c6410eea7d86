"""The trigger's evidence: what the scoring log says per window, read through the warehouse layer
(:mod:`services.warehouse.sources`) and the drift engine's public per-window functions.

Nothing but per-window numbers leaves the queries: rows per window, the drift engine's
per-window drift (:func:`services.drift.drift_over_time`), performance from delayed labels
(:func:`services.drift.performance_over_time`) and the advisory CBPE estimates
(:func:`services.drift.estimation.estimated_performance`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.config import ModelSpec, Settings
from services.drift import drift_over_time, performance_over_time
from services.drift.estimation import estimated_performance
from services.drift.log_sql import rows_query
from services.errors import BadInput, DriftGateError, NotFound
from services.warehouse.sources import as_date, newest_date, open_backend, open_delta_table, source_from_settings

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ScoringLog:
    """A model's scoring log as the trigger needs it: ``[models.<name>]`` with a source and a
    timestamp column; ``spec.reference`` is the reference window in use."""

    spec: ModelSpec
    source: str
    timestamp: str

    @property
    def model(self) -> str:
        return self.spec.name

    @property
    def has_labels(self) -> bool:
        return bool(self.spec.label and self.spec.prediction)


def scoring_log(settings: Settings, model: str) -> ScoringLog:
    """``[models.<model>]`` checked for what the trigger needs (one line naming the key)."""
    if not model or not isinstance(model, str):
        raise BadInput("a model name is required (--model)")
    spec = settings.require_model(model, "scoring log")
    where = f"[models.{model}]"
    if not spec.source:
        raise NotFound(f"model {model!r} has no scoring log: {where} source is not set")
    if settings.source(spec.source) is None:
        raise NotFound(f"{where} source {spec.source!r} has no [sources.{spec.source}] entry")
    if not spec.timestamp:
        raise BadInput(f"{where} timestamp (the scoring log's time column) is not set")
    for col in [spec.timestamp, spec.label, spec.prediction, *spec.features]:
        if col is not None and not _IDENT.match(col):
            raise BadInput(f"{where}: {col!r} is not a plain column name")
    ref = spec.reference
    if ref.start and ref.end and ref.end < ref.start:
        raise BadInput(f"{where} reference_window ends before it starts")
    return ScoringLog(spec, spec.source, spec.timestamp)


def check_scoring_log(settings: Settings, log: ScoringLog) -> dt.date | None:
    """Open the model's scoring log, check the configured columns exist and return the date of
    its newest event (None for an empty log)."""
    spec = log.spec
    source = source_from_settings(settings, log.source)
    try:
        with open_backend(source, settings) as backend:
            needed = [log.timestamp, *spec.features] + [c for c in (spec.label, spec.prediction) if c]
            missing = [c for c in needed if c not in backend.columns]
            if missing:
                raise BadInput(f"scoring log of model {log.model!r} lacks column(s): {', '.join(missing)}")
            return newest_date(backend, log.timestamp)
    except DriftGateError:
        raise
    except Exception as exc:
        raise BadInput(f"scoring log of model {log.model!r} cannot be read ({type(exc).__name__})") from None


Doc = Mapping[str, Any]


def rows_per_window(settings: Settings, log: ScoringLog, start: dt.date, end: dt.date, unit: str) -> dict[dt.date, int]:
    """Rows per window of the days ``start``..``end`` (keyed by the window's start date)."""
    rows: dict[dt.date, int] = {}
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    with open_backend(source_from_settings(settings, log.source), settings) as backend:
        sql, params = rows_query(backend.table, backend.dialect, ts=log.timestamp, group_by=unit, start=lo, end=hi)
        for w, n in backend.execute(sql, params):
            key = as_date(w)
            if key is not None:
                rows[key] = rows.get(key, 0) + int(n)
    return rows


def drift_per_window(
    settings: Settings, log: ScoringLog, start: dt.date, end: dt.date, unit: str
) -> tuple[dict[dt.date | None, Doc], str | None]:
    """The drift engine's per-window drift against the reference window in use, or a note."""
    try:
        doc = drift_over_time(
            settings,
            log.model,
            unit=unit,
            start=start,
            end=end,
            features=list(log.spec.features),
            reference=log.spec.reference,
        )
    except BadInput as exc:  # e.g. an empty reference window: no drift evidence
        return {}, f"drift not evaluated: {exc}"
    return {as_date(w["start"]): w for w in doc["windows"]}, None


def performance_per_window(
    settings: Settings, log: ScoringLog, start: dt.date, end: dt.date, unit: str
) -> tuple[dict[str, Any] | None, str | None]:
    """Performance from delayed labels per window plus ``reference`` (the engine's document), or
    None with a note."""
    try:
        doc = performance_over_time(settings, log.model, unit=unit, start=start, end=end, reference=log.spec.reference)
    except BadInput as exc:
        return None, f"performance not evaluated: {exc}"
    return doc, None


def estimated_evidence(
    settings: Settings, log: ScoringLog, unit: str, start: dt.date, end: dt.date
) -> tuple[dict[str, Any] | None, str | None]:
    """The CBPE document for the evaluated windows, or None with a one-line note (estimation is
    advisory: it never fails the trigger)."""
    try:
        doc = estimated_performance(settings, log.model, unit=unit, start=start, end=end, reference=log.spec.reference)
    except BadInput as exc:
        return None, f"estimated performance not available: {exc}"
    return doc, None


def by_start(doc: Mapping[str, Any] | None) -> dict[dt.date | None, Doc]:
    """An engine document's ``windows`` keyed by their start date."""
    return {as_date(w["start"]): w for w in (doc or {}).get("windows", [])}


def delta_version(settings: Settings, source: str) -> int | None:
    """The current table version of a Delta source (None for other kinds or when unreadable)."""
    cfg = settings.source(source)
    if cfg is None or cfg.type != "delta" or not cfg.path:
        return None
    try:
        return int(open_delta_table(str(settings.resolve_path(cfg.path)), None).version())
    except DriftGateError:
        return None
