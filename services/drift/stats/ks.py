"""Two-sample Kolmogorov-Smirnov (numeric; the default significance test)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from services.drift.stats.base import _grid_cdf, kolmogorov, ks_critical, sstats
from services.drift.stats.registry import NUMERIC, Pair, Result, StatTest


def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov, scipy's default method."""
    with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp" is scipy's own default
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sstats.ks_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


def _asymp_p(d: float, n_ref: int, n_cur: int) -> float:
    """scipy's ``ks_2samp(method="asymp")`` p-value of a statistic: ``kstwo.sf(d, round(n*m/(n+m)))``
    (:mod:`services.drift.stats._kolmogorov`: scipy's algorithm without scipy.stats' import)."""
    en = round(n_ref * n_cur / (n_ref + n_cur))
    return float(kolmogorov.kstwo_sf(d, max(int(en), 1)))  # (clipped to [0, 1] there)


def ks_from_grids(ref_grid: Any, cur_grid: Any, n_ref: int, n_cur: int) -> tuple[float, float]:
    """KS statistic from two quantile grids (error about 1/G), p-value as scipy's asymp method."""
    rg = np.asarray(ref_grid, dtype=float)
    cg = np.asarray(cur_grid, dtype=float)
    points = np.union1d(rg, cg)
    d = float(np.max(np.abs(_grid_cdf(rg, points) - _grid_cdf(cg, points))))
    return d, _asymp_p(d, n_ref, n_cur)


def ks_from_cdf(ref_le: Any, cur_le: Any, n_ref: int, n_cur: int) -> tuple[float, float]:
    """KS statistic as the largest CDF gap at the points (a lower bound within ~1/G of the exact
    one), p-value as scipy's asymp method."""
    fr = np.asarray(ref_le, dtype=float) / n_ref
    fc = np.asarray(cur_le, dtype=float) / n_cur
    d = float(np.max(np.abs(fr - fc))) if fr.size else 0.0
    d = max(d, float(fc[0]) if fc.size else 0.0, float(1.0 - fc[-1]) if fc.size else 0.0)
    return d, _asymp_p(d, n_ref, n_cur)


TEST = StatTest("ks", order=10, kinds=NUMERIC, p_value=True, default_threshold=0.05)


@TEST.implements("exact")
def _exact(p: Pair) -> Result:
    return ks(np.asarray(p.ref.values), np.asarray(p.cur.values))


@TEST.implements("cdf")
def _cdf(p: Pair) -> Result:
    return ks_from_cdf(p.ref.cdf, p.cur.cdf, p.ref.count, p.cur.count)


@TEST.implements("grid")
def _grid(p: Pair) -> Result:
    return ks_from_grids(p.ref.grid, p.cur.grid, p.ref.count, p.cur.count)


@TEST.detects("numeric")
def _sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any]:
    """The critical KS statistic (the adjusted p-value decides alone: no rows needed)."""
    d_crit = ks_critical(p.ref.count, p.cur.count, level)
    return {"min_detectable": d_crit, "detectable": True, "rows_needed": None}
