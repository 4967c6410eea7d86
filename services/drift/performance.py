"""Model performance from delayed labels, per window: ROC AUC (from score buckets), accuracy at
0.5 and the label rate, computed from grouped aggregates pushed into the engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np

from services.config import ReferenceWindow, Settings
from services.drift.log_sql import performance_query
from services.drift.model import ModelData, model_data
from services.errors import BadInput
from services.warehouse.sources import Backend, Window, as_date, open_backend, resolve_window


def labelled_windows(
    backend: Backend,
    data: ModelData,
    build: Callable[..., tuple[str, dict[str, Any]]],
    *,
    unit: str,
    start: date | None,
    end: date | None,
    reference_unit: str | None = None,
) -> tuple[list[Any], list[Any]]:
    """The rows of one grouped query over the label and prediction (``build``: a query builder of
    :mod:`services.drift.sql`) for the windows in ``start..end`` and for the reference window
    (grouped by ``reference_unit``, or not at all)."""
    out = []
    for group, win in (
        (unit, Window(timestamp=data.timestamp, start=start, end=end)),
        (reference_unit, data.reference),
    ):
        bounds = resolve_window(backend, win)
        sql, params = build(
            backend.table,
            backend.dialect,
            ts=data.timestamp,
            label=data.label,
            prediction=data.prediction,
            group_by=group,
            start=bounds[0],
            end=bounds[1],
        )
        out.append(backend.execute(sql, params))
    return out[0], out[1]


def performance_over_time(
    settings: Settings,
    model: str,
    *,
    reference: ReferenceWindow | None = None,
    unit: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """ROC AUC (from score buckets of 0.001), accuracy at 0.5 and label rate per window, from
    the rows whose (delayed) label has arrived; plus the same on the reference window."""
    data = model_data(settings, model, reference=reference)
    if not (data.timestamp and data.label and data.prediction):
        raise BadInput(f"model {model!r} needs timestamp, label and prediction columns configured")
    unit = unit or settings.sections.drift.window
    with open_backend(data.source, settings) as b:
        per_window, on_reference = labelled_windows(
            b, data, performance_query, unit=unit, start=start, end=end, reference_unit=unit
        )
    grouped: dict[Any, list[tuple[Any, float, int, int]]] = {}
    for w, bucket, pos, n, correct in per_window:
        grouped.setdefault(as_date(w), []).append((bucket, float(pos or 0), int(n), int(correct or 0)))
    windows = [dict(start=w.isoformat(), **_perf(rows)) for w, rows in sorted(grouped.items())]
    ref_rows = [(b_, float(p or 0), int(n), int(c or 0)) for _, b_, p, n, c in on_reference]
    return {"model": model, "unit": unit, "reference": _perf(ref_rows) if ref_rows else None, "windows": windows}


def _perf(rows: Sequence[tuple[Any, float, int, int]]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: r[0])
    pos = np.array([r[1] for r in rows])
    neg = np.array([r[2] - r[1] for r in rows])
    n = int(sum(r[2] for r in rows))
    correct = sum(r[3] for r in rows)
    P, N = pos.sum(), neg.sum()
    auc = None
    if P > 0 and N > 0:
        # Probability a random positive outranks a random negative; ties within a bucket count 1/2.
        neg_below = np.cumsum(neg) - neg
        auc = float(np.sum(pos * (neg_below + 0.5 * neg)) / (P * N))
    return {
        "labelled": n,
        "roc_auc": auc,
        "accuracy": correct / n if n else None,
        "label_rate": float(P / n) if n else None,
    }
