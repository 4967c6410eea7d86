"""The drift statistics of the spec's "Drift engine contract", computed with scipy.

Everything here is pure (numpy arrays / count vectors in, floats out) and shared by every engine:
the binned statistics (psi, jensenshannon, chi2) take count vectors, so an engine that pushes the
counting down to SQL gets exactly the same numbers as the in-memory one.
"""

from __future__ import annotations

import importlib
import math
import threading
import warnings
from collections.abc import Sequence
from types import ModuleType

import numpy as np


class _Deferred:
    """scipy.stats costs ~0.6 s to import; it is loaded on first use, or on a background thread
    by :func:`warm_up_in_background` while a pushdown report runs its queries (so the report does
    not pay it serially)."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


sstats = _Deferred("scipy.stats")
sdistance = _Deferred("scipy.spatial.distance")


def warm_up() -> None:
    """Import scipy now (idempotent)."""
    sstats.__getattr__("ks_2samp")
    sdistance.__getattr__("jensenshannon")


_warming: threading.Thread | None = None


def warm_up_in_background() -> None:
    """Start importing scipy on a background thread (once), so a pushdown report overlaps the
    import with its SQL passes; the first statistic waits for it through Python's import lock."""
    global _warming
    if _warming is None and sstats._module is None:
        _warming = threading.Thread(target=warm_up, name="driftgate-scipy-import", daemon=True)
        _warming.start()


DECILES = tuple(round(0.1 * k, 1) for k in range(1, 10))  # 0.1 ... 0.9
PSI_FLOOR = 0.0001
# Quantile grid stored in profiles for the approximate KS / Wasserstein (0, 1/G, ..., 1).
GRID_SIZE = 1000

NUMERIC_TESTS = ("ks", "wasserstein", "psi", "jensenshannon")
CATEGORICAL_TESTS = ("chi2", "psi", "jensenshannon")
P_VALUE_TESTS = frozenset({"ks", "chi2"})


def _f(x) -> float | None:
    """A plain float, or None for NaN/inf/None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# -- numeric, exact (memory engine) --------------------------------------------------------------
def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov, scipy's default method."""
    with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp" is scipy's own default
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sstats.ks_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)


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


# -- binning -------------------------------------------------------------------------------------
def decile_edges(ref: np.ndarray) -> list[float]:
    """Reference deciles (numpy linear interpolation), duplicates dropped, ascending."""
    return dedupe_edges(np.quantile(ref, DECILES).tolist())


def dedupe_edges(edges: Sequence[float]) -> list[float]:
    return [float(e) for e in np.unique(np.asarray(edges, dtype=float))]


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> list[int]:
    """Counts in (-inf, e1], (e1, e2], ..., (ek, +inf): bin index = number of edges < x."""
    idx = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    return [int(c) for c in np.bincount(idx, minlength=len(edges) + 1)]


def counts_from_cumulative(cumulative: Sequence[int], total: int) -> list[int]:
    """Bin counts from counts of ``x <= e_j`` (what SQL engines return)."""
    cum = [int(c) for c in cumulative] + [int(total)]
    prev, out = 0, []
    for c in cum:
        out.append(c - prev)
        prev = c
    return out


# -- binned / categorical ------------------------------------------------------------------------
def shares(counts: Sequence[float]) -> np.ndarray:
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    return c / total if total > 0 else c


def psi(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Population stability index; zero shares replaced by 0.0001 (no renormalisation)."""
    r = shares(ref_counts)
    c = shares(cur_counts)
    r = np.where(r == 0, PSI_FLOOR, r)
    c = np.where(c == 0, PSI_FLOOR, c)
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2, on raw shares (scipy)."""
    value = float(sdistance.jensenshannon(shares(ref_counts), shares(cur_counts), base=2))
    # scipy can return a tiny NaN-free negative-zero/rounding; identical inputs give exactly 0.
    return 0.0 if not math.isfinite(value) else max(0.0, value)


def chi2(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table (no Yates correction)."""
    table = np.asarray([ref_counts, cur_counts], dtype=float)
    res = sstats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


def align_categories(ref: dict[str, int], cur: dict[str, int]) -> tuple[list[str], list[int], list[int]]:
    """Union of both sides' categories (sorted) and the two count vectors over it."""
    cats = sorted(set(ref) | set(cur))
    return cats, [int(ref.get(k, 0)) for k in cats], [int(cur.get(k, 0)) for k in cats]


# -- approximate ks / wasserstein from quantile grids (pushdown engines, stored profiles) --------
def grid_probs(size: int = GRID_SIZE) -> list[float]:
    return [k / size for k in range(size + 1)]


def quantile_grid(values: np.ndarray, size: int = GRID_SIZE) -> list[float]:
    """Discrete quantiles at k/G, as SQL's PERCENTILE_DISC / DuckDB's QUANTILE_DISC (inverted CDF)."""
    return [float(x) for x in np.quantile(values, grid_probs(size), method="inverted_cdf")]


def _grid_cdf(grid: np.ndarray, points: np.ndarray) -> np.ndarray:
    """ECDF estimated from a discrete-quantile grid at probabilities k/G (k = 0..G)."""
    size = len(grid) - 1
    return np.clip((np.searchsorted(grid, points, side="right") - 1) / size, 0.0, 1.0)


def ks_from_grids(ref_grid: Sequence[float], cur_grid: Sequence[float], n_ref: int, n_cur: int) -> tuple[float, float]:
    """KS statistic from two quantile grids (error about 1/G), p-value as scipy's
    ``ks_2samp(method="asymp")`` computes it from the statistic: ``kstwo.sf(d, round(n*m/(n+m)))``."""
    rg = np.asarray(ref_grid, dtype=float)
    cg = np.asarray(cur_grid, dtype=float)
    points = np.union1d(rg, cg)
    d = float(np.max(np.abs(_grid_cdf(rg, points) - _grid_cdf(cg, points))))
    en = round(n_ref * n_cur / (n_ref + n_cur))
    p = float(sstats.kstwo.sf(d, max(int(en), 1)))
    return d, min(max(p, 0.0), 1.0)


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


# -- ks / wasserstein from exact counts at the reference's grid points (DuckDB current windows) --
def cdf_points(grid: Sequence[float]) -> list[float]:
    """Evaluation points: every distinct grid value g, and the double just below it (g^-) where g
    is an atom (it fills at least two grid slots), so both F(g) and F(g^-) are known there. KS at
    the points is off by at most the mass strictly between two consecutive points (~1/G); the
    g^- points keep the Wasserstein integral exact across an atom's jump."""
    g = np.asarray(grid, dtype=float)
    if g.size == 0:
        return []
    values, slots = np.unique(g, return_counts=True)
    return [float(x) for x in np.unique(np.concatenate([values, np.nextafter(values[slots > 1], -np.inf)]))]


def cumulative_at(sorted_values: np.ndarray, points: Sequence[float]) -> list[int]:
    return [int(c) for c in np.searchsorted(sorted_values, np.asarray(points, dtype=float), side="right")]


def ks_from_cdf(ref_le: Sequence[int], cur_le: Sequence[int], n_ref: int, n_cur: int) -> tuple[float, float]:
    """KS statistic as the largest CDF gap at the points (a lower bound within ~1/G of the exact
    one), p-value as scipy's ``ks_2samp(method="asymp")``: ``kstwo.sf(d, round(n*m/(n+m)))``."""
    fr = np.asarray(ref_le, dtype=float) / n_ref
    fc = np.asarray(cur_le, dtype=float) / n_cur
    d = float(np.max(np.abs(fr - fc))) if fr.size else 0.0
    d = max(d, float(fc[0]) if fc.size else 0.0, float(1.0 - fc[-1]) if fc.size else 0.0)
    en = round(n_ref * n_cur / (n_ref + n_cur))
    return d, min(max(float(sstats.kstwo.sf(d, max(int(en), 1))), 0.0), 1.0)


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


# -- multiple testing ----------------------------------------------------------------------------
def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    if not p_values:
        return []
    return [float(p) for p in sstats.false_discovery_control(np.asarray(p_values, dtype=float), method="bh")]


# -- sensitivity: the smallest effect a window can detect ---------------------------------------
def ks_critical(n: int, m: int, level: float) -> float:
    """Asymptotic two-sample KS critical value at ``level``: c(level)·sqrt((n+m)/(n·m))."""
    return math.sqrt(-0.5 * math.log(level / 2.0)) * math.sqrt((n + m) / (n * m))


def _rows_for(needed_eff: float, n: int) -> int | None:
    """Smallest current size m with n·m/(n+m) >= needed_eff (None: the reference is too small)."""
    inv = 1.0 / needed_eff - 1.0 / n if needed_eff > 0 else -1.0
    return int(math.ceil(1.0 / inv)) if inv > 0 else None


def _reference_cdf(ref) -> tuple[np.ndarray, np.ndarray] | None:
    """(points, P(X <= point)) of a numeric reference profile: its exact counts at the CDF points
    (memory and DuckDB profiles), else its discrete-quantile grid."""
    if ref.points and ref.cdf and len(ref.points) == len(ref.cdf) and ref.count:
        return np.asarray(ref.points, dtype=float), np.asarray(ref.cdf, dtype=float) / ref.count
    grid = np.asarray(ref.grid or [], dtype=float)
    if grid.size < 2:
        return None
    return grid, np.arange(grid.size, dtype=float) / (grid.size - 1)


def sensitivity(ref, cur, test: str, threshold: float, level: float) -> dict | None:
    """The smallest ``test`` effect this pair of window sizes can detect at the per-feature level
    ``level`` (alpha / size of the BH family: what one drifted feature alone must reach), whether
    an effect of ``threshold`` is detectable, and the current rows that would make it so.

    * ``wasserstein`` (numeric, KS significance): a location shift of δ reference stds moves the
      CDF by the largest reference mass inside a width of δ·std (read off the reference's quantile
      grid, so skew and atoms count); it is significant when that reaches the KS critical value.
    * ``jensenshannon`` / ``psi`` (categorical, chi2 significance): for small changes
      chi2 ≈ N·8·ln2·JS² ≈ N·psi with N = n·m/(n+m), against chi2's critical value (k−1 df).
    * ``ks`` / ``chi2`` (adjusted p alone): the critical statistic; rows_needed is not defined.
    Numeric ``psi``/``jensenshannon`` overrides (bins, KS significance): None (no closed form).
    Everything here is an approximation ("≈") for display, never part of the decision.
    """
    n, m = int(ref.count), int(cur.count)
    if n <= 0 or m <= 0 or not 0 < level < 1:
        return None
    out = {"effect": test, "threshold": float(threshold), "level": float(level), "current_rows": m}
    if ref.kind == "numeric":
        c = math.sqrt(-0.5 * math.log(level / 2.0))
        d_crit = ks_critical(n, m, level)
        if test == "ks":
            return {**out, "min_detectable": d_crit, "detectable": True, "rows_needed": None}
        if test != "wasserstein":
            return None
        std = float((ref.summary or {}).get("std") or 0.0)
        if std == 0.0:  # constant reference: any departure is a null (reached) effect, KS gap up to 1
            return {**out, "min_detectable": 0.0, "detectable": d_crit <= 1.0, "rows_needed": _rows_for(c * c, n)}
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
        detectable = d_thr >= d_crit
        need = _rows_for((c / d_thr) ** 2, n) if d_thr > 0 else None
        return {**out, "min_detectable": min_det, "detectable": bool(detectable), "rows_needed": need}
    cats = len(set(ref.counts) | set(cur.counts))
    crit = float(sstats.chi2.isf(level, max(cats - 1, 1)))
    n_eff = n * m / (n + m)
    if test == "chi2":
        return {**out, "min_detectable": crit, "detectable": True, "rows_needed": None}
    factor = 8.0 * math.log(2.0)
    if test == "jensenshannon":
        min_det = math.sqrt(crit / (factor * n_eff))
        needed = crit / (factor * threshold * threshold) if threshold > 0 else math.inf
    elif test == "psi":
        min_det = crit / n_eff
        needed = crit / threshold if threshold > 0 else math.inf
    else:
        return None
    detectable = min_det <= threshold
    need = _rows_for(needed, n) if math.isfinite(needed) else None
    return {**out, "min_detectable": min_det, "detectable": bool(detectable), "rows_needed": need}


# -- summaries -----------------------------------------------------------------------------------
def numeric_summary(values: np.ndarray, rows: int) -> dict:
    n = int(values.size)
    if n == 0:
        return {
            "count": 0,
            "missing_share": 1.0 if rows else 0.0,
            "mean": None,
            "std": None,
            "min": None,
            "median": None,
            "max": None,
        }
    return {
        "count": n,
        "missing_share": (rows - n) / rows if rows else 0.0,
        "mean": _f(np.mean(values)),
        "std": _f(np.std(values, ddof=0)),
        "min": _f(np.min(values)),
        "median": _f(np.median(values)),
        "max": _f(np.max(values)),
    }


def categorical_summary(counts: dict[str, int], rows: int, reference: dict[str, int] | None = None) -> dict:
    n = int(sum(counts.values()))
    mode = None
    if counts:
        top = max(counts.values())
        mode = min(k for k, v in counts.items() if v == top)
    unseen = sorted(k for k in counts if k not in reference) if reference is not None else []
    return {
        "count": n,
        "missing_share": (rows - n) / rows if rows else 0.0,
        "unique": len(counts),
        "mode": mode,
        "unseen_categories": unseen,
    }
