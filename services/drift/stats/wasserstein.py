"""First Wasserstein distance in units of the reference's population std (numeric; the default
numeric effect)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.drift.stats.base import _reference_cdf, _rows_for, ks_critical, sstats
from services.drift.stats.registry import NUMERIC, Pair, Result, StatTest


def wasserstein_normed(ref: np.ndarray, cur: np.ndarray) -> float | None:
    """First Wasserstein distance / reference population std; constant-reference rule."""
    if np.min(ref) == np.max(ref):  # constant reference: std 0
        return 0.0 if np.all(cur == ref[0]) else None
    std = float(np.std(ref, ddof=0))
    if std == 0.0 or not math.isfinite(std):  # under/overflow of tiny/huge values: same ratio, rescaled
        scale = float(np.max(np.abs(ref)))
        with np.errstate(over="ignore"):
            ref, cur = ref / scale, cur / scale
        std = float(np.std(ref, ddof=0))
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(sstats.wasserstein_distance(ref, cur)) / std
    return value if math.isfinite(value) else math.inf  # astronomically far from a tiny-spread reference


def wasserstein_from_grids(
    ref_grid: Sequence[float],
    cur_grid: Sequence[float],
    ref_std: float,
    ref_min: float,
    ref_max: float,
    cur_min: float,
    cur_max: float,
) -> float | None:
    """W1 = integral of |Q_ref(u) - Q_cur(u)| du (trapezoid on the grid) / ref std."""
    if ref_std == 0.0:
        return 0.0 if (cur_min == ref_min and cur_max == ref_max) else None
    diff = np.abs(np.asarray(ref_grid, dtype=float) - np.asarray(cur_grid, dtype=float))
    w = float(np.sum((diff[1:] + diff[:-1]) / 2.0) / (len(diff) - 1))
    return w / ref_std


def wasserstein_from_cdf(
    points: Sequence[float],
    ref_le: Sequence[int],
    cur_le: Sequence[int],
    n_ref: int,
    n_cur: int,
    cur_below: float,
    cur_above: float,
    ref_std: float,
) -> float | None:
    """W1 = integral of |F_ref - F_cur| (trapezoid between the points) plus the current's exact
    tails outside the reference's range (``cur_below`` = sum of (p0 - x)+, ``cur_above`` = sum of
    (x - pN)+, both from SQL), divided by the reference std."""
    x = np.asarray(points, dtype=float)
    gap = np.abs(np.asarray(ref_le, dtype=float) / n_ref - np.asarray(cur_le, dtype=float) / n_cur)
    inner = float(np.sum((gap[1:] + gap[:-1]) / 2.0 * np.diff(x))) if x.size > 1 else 0.0
    w = inner + (cur_below + cur_above) / n_cur
    if ref_std == 0.0:
        return 0.0 if w == 0.0 else None
    return w / ref_std


TEST = StatTest("wasserstein", order=20, kinds=NUMERIC, p_value=False, default_threshold=0.1)


@TEST.implements("exact")
def _exact(p: Pair) -> Result:
    return wasserstein_normed(np.asarray(p.ref.values), np.asarray(p.cur.values)), None


@TEST.implements("cdf")
def _cdf(p: Pair) -> Result:
    rs, cs = p.ref.summary, p.cur.summary
    if (rs["std"] or 0.0) == 0.0:  # constant reference rule
        return (0.0 if (cs["min"] == rs["min"] and cs["max"] == rs["max"]) else None), None
    below, above = p.cur.tails[0], p.cur.tails[1]
    return wasserstein_from_cdf(
        p.ref.points, p.ref.cdf, p.cur.cdf, p.ref.count, p.cur.count, below, above, rs["std"]
    ), None


@TEST.implements("grid")
def _grid(p: Pair) -> Result:
    rs, cs = p.ref.summary, p.cur.summary
    return wasserstein_from_grids(
        p.ref.grid, p.cur.grid, rs["std"] or 0.0, rs["min"], rs["max"], cs["min"], cs["max"]
    ), None


@TEST.detects("numeric")
def _sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any] | None:
    """A location shift of δ reference stds moves the CDF by the largest reference mass inside a
    width of δ·std (read off the reference's CDF points or quantile grid, so skew and atoms count);
    it is significant when that reaches the KS critical value."""
    ref, n = p.ref, p.ref.count
    c = math.sqrt(-0.5 * math.log(level / 2.0))
    d_crit = ks_critical(n, p.cur.count, level)
    std = float((ref.summary or {}).get("std") or 0.0)
    if std == 0.0:  # constant reference: any departure is a null (reached) effect, KS gap up to 1
        return {"min_detectable": 0.0, "detectable": d_crit <= 1.0, "rows_needed": _rows_for(c * c, n)}
    cdf = _reference_cdf(ref)
    if cdf is None:
        return None
    x, f = cdf
    # mass below each point's start: at an atom (its previous point is just below it, or the
    # same grid value) the atom itself moves with the shift; elsewhere (x_i, x_j] holds it
    prev = np.concatenate([[-np.inf], x[:-1]])
    atom = (x - prev) <= np.abs(x) * 1e-12 + 1e-300
    before = np.where(atom, np.concatenate([[0.0], f[:-1]]), f)
    # narrowest width holding mass d_crit: from each point to the first reaching before + d_crit
    j = np.searchsorted(f, before + d_crit - 1e-12, side="left")
    ok = j < x.size
    min_det = float(np.min(x[j[ok]] - x[ok]) / std) if ok.any() else None
    # largest mass inside a width of threshold·std: the CDF gap a threshold-sized shift makes
    k = np.searchsorted(x, x + threshold * std, side="right") - 1
    d_thr = float(np.max(f[k] - before))
    need = _rows_for((c / d_thr) ** 2, n) if d_thr > 0 else None
    return {"min_detectable": min_det, "detectable": bool(d_thr >= d_crit), "rows_needed": need}
