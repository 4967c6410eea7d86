"""``[models.<name>]``: one registered model's settings, parsed once into a :class:`ModelSpec`.

Every reader of a model's configuration (the drift report, the trigger, the retraining workflow,
performance estimation) takes its columns, features and reference window from here; what each of
them *requires* (a source, a timestamp, labels...) it checks itself, with its own message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.config.schema import GateSection, ModelSection, RetrainSection, TriggerSection
from services.errors import BadInput

UTC = dt.UTC
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_instant(value: Any, what: str, *, end: bool = False) -> dt.datetime:
    """A config / CLI date or date-time as an aware UTC datetime. A bare date as an ``end`` is
    inclusive (the whole day), i.e. it becomes the next midnight."""
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        day = dt.datetime.combine(value, dt.time(), tzinfo=UTC)
        return day + dt.timedelta(days=1) if end else day
    elif isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DAY.fullmatch(text):
                day = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=UTC)
                return day + dt.timedelta(days=1) if end else day
            out = dt.datetime.fromisoformat(text)
        except ValueError:
            raise BadInput(f"{what} is not an ISO date or date-time: {value!r}") from None
    else:
        raise BadInput(f"{what} is not an ISO date or date-time: {value!r}")
    return out.replace(tzinfo=UTC) if out.tzinfo is None else out.astimezone(UTC)


def _day(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadInput(f"{what} is not an ISO date (YYYY-MM-DD): {str(value)[:40]!r}") from None


@dataclass(frozen=True)
class ReferenceWindow:
    """The reference window: UTC days ``start`` .. ``end`` (inclusive), or a Delta ``version``."""

    start: dt.date | None = None
    end: dt.date | None = None
    version: int | None = None

    @property
    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """``[start, end)`` as aware UTC instants (the end is the midnight after ``end``)."""
        lo = dt.datetime.combine(self.start, dt.time(), tzinfo=UTC) if self.start else None
        hi = dt.datetime.combine(self.end, dt.time(), tzinfo=UTC) + dt.timedelta(days=1) if self.end else None
        return lo, hi

    @classmethod
    def between(cls, start: dt.datetime, end: dt.datetime) -> ReferenceWindow:
        """The window of the days in ``[start, end)`` (``end`` exclusive, a midnight)."""
        return cls(start.date(), (end - dt.timedelta(days=1)).date())


@dataclass(frozen=True)
class ModelSpec:
    """One ``[models.<name>]`` table, typed. ``experiment`` defaults to the model's name."""

    name: str
    experiment: str
    source: str | None = None
    label: str | None = None
    prediction: str | None = None
    timestamp: str | None = None
    model_version_column: str | None = None
    id_columns: tuple[str, ...] = ()
    features: tuple[str, ...] = ()  # as configured (empty: the drift report infers them)
    numerical: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    selection_metric: str | None = None
    greater_is_better: bool | None = None
    guard_metrics: Mapping[str, float] | tuple[str, ...] | None = None
    reference: ReferenceWindow = field(default_factory=ReferenceWindow)
    feature_importance: Mapping[str, float] | None = None
    gate: GateSection | None = None
    trigger: TriggerSection | None = None
    retrain: RetrainSection | None = None

    @classmethod
    def parse(cls, name: str, section: ModelSection) -> ModelSpec:
        ref = section.reference_window
        where = f"[models.{name}] reference_window"
        reference = ReferenceWindow(
            start=_day(ref.start, f"{where}.start") if ref is not None and ref.start else None,
            end=_day(ref.end, f"{where}.end") if ref is not None and ref.end else None,
            version=ref.version if ref is not None else None,
        )
        guards = section.guard_metrics
        return cls(
            name=name,
            experiment=section.experiment or name,
            source=section.source or None,
            label=section.label or None,
            prediction=section.prediction or None,
            timestamp=section.timestamp or None,
            model_version_column=section.model_version_column or None,
            id_columns=tuple(section.id_columns),
            features=tuple(section.features),
            numerical=tuple(section.numerical),
            categorical=tuple(section.categorical),
            selection_metric=section.selection_metric,
            greater_is_better=section.greater_is_better,
            guard_metrics=tuple(guards) if isinstance(guards, list) else guards,
            reference=reference,
            feature_importance=section.feature_importance,
            gate=section.gate,
            trigger=section.trigger,
            retrain=section.retrain,
        )

    @property
    def id_column(self) -> str | None:
        return self.id_columns[0] if self.id_columns else None

    def with_reference(self, reference: ReferenceWindow) -> ModelSpec:
        return replace(self, reference=reference)
