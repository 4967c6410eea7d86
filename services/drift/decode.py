"""Result rows of the pushdown statements turned into per-column dicts and lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.drift.sql import NumericSpec, hist_bounds

NUMERIC_FIELDS = ("count", "mean", "std", "min", "max", "median", "infinite", "grid")
Doc = dict[str, Any]  # one column's aggregates of one window (count, mean, ..., cdf, tails)
Rows = list[tuple[Any, ...]]


def decode_numeric(
    row: Sequence[Any], specs: Sequence[NumericSpec], grouped: bool, only_bins: bool = False, sorted_lists: bool = False
) -> tuple[Any, int, list[Doc]]:
    """Split one result row of :func:`numeric_query` into (window, rows, per-column dicts)."""
    pos = 0
    window = None
    if grouped:
        window, pos = row[0], 1
    rows = int(row[pos] or 0)
    pos += 1
    out: list[Doc] = []
    for spec in specs:
        hist = bool(spec.points) and sorted_lists
        d: Doc
        if only_bins:
            if hist:
                d = _from_hist(row[pos], spec)
                pos += 1
            else:
                n_edges = len(spec.edges or ())
                d = {"cumulative": [int(x or 0) for x in row[pos : pos + n_edges]]}
                pos += n_edges
            out.append(d)
            continue
        d = dict(zip(NUMERIC_FIELDS, row[pos : pos + len(NUMERIC_FIELDS)]))
        pos += len(NUMERIC_FIELDS)
        d["median"] = _scalar(d["median"])
        d["grid"] = floats_or_empty(d["grid"])
        if spec.deciles:
            dec = row[pos]
            pos += 1
            d["deciles"] = floats_or_empty(dec)
        if hist:
            d.update(_from_hist(row[pos], spec))
            d["tails"] = [float(row[pos + 1] or 0.0), float(row[pos + 2] or 0.0)]
            pos += 3
        else:
            n_edges = len(spec.edges or ())
            d["cumulative"] = [int(x or 0) for x in row[pos : pos + n_edges]]
            pos += n_edges
        out.append(d)
    return window, rows, out


def _from_hist(hist: Any, spec: NumericSpec) -> dict[str, list[int]]:
    """Counts <= each CDF point ("cdf") and <= each bin edge ("cumulative") from one HISTOGRAM."""
    bounds = hist_bounds(spec)
    at = dict(zip(bounds, histogram_cdf(hist, bounds)))
    return {"cdf": [at[float(p)] for p in spec.points or ()], "cumulative": [at[float(e)] for e in spec.edges or ()]}


def histogram_cdf(hist: Any, points: Sequence[float]) -> list[int]:
    """Cumulative counts <= each point from DuckDB's HISTOGRAM(x, points) map ((prev, p] buckets)."""
    counts = dict(hist or {})
    out, running = [], 0
    for p in points:
        running += int(counts.get(p, 0) or 0)
        out.append(running)
    return out


def floats_or_empty(values: Any) -> list[float]:
    """A list of floats, or [] when the engine had no values (NULL list or NULL entries)."""
    if values is None:
        return []
    found = list(values)
    if any(v is None for v in found):
        return []
    return [float(v) for v in found]


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, str):
        return float(value[0]) if len(value) else None
    return float(value)


def split_cells(rows: Rows) -> dict[int, NDArray[np.float64]]:
    """A cells statement's rows ``(k, key, n, sum, min, max, var_pop)`` as one array per column ``k``
    (columns ``key`` … ``var_pop``; NULL as NaN)."""
    if not rows:
        return {}
    table = np.array(rows, dtype=float)
    ks = table[:, 0].astype(np.int64)
    return {int(k): table[ks == k, 1:] for k in np.unique(ks)}
