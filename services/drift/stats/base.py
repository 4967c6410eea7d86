"""What every statistical test shares: scipy (loaded late), binning, quantile grids, CDF points,
Benjamini-Hochberg, the sensitivity helpers and the summaries.

Everything here is pure (numpy arrays / count vectors in, floats out) and shared by every engine:
the binned statistics (psi, jensenshannon, chi2) take count vectors, so an engine that pushes the
counting down to SQL gets exactly the same numbers as the in-memory one.
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from services.numbers import finite_or_none

if TYPE_CHECKING:
    from services.drift.profile import FeatureProfile
    from services.drift.stats.registry import Pair


class _Deferred:
    """A module imported on first use. ``scipy.stats`` costs ~1 s of CPU to import and only the
    exact (memory) engine needs it (ks_2samp, wasserstein_distance); a pushdown report needs only
    ``scipy.special`` (~0.25 s), which :func:`warm_up_in_background` imports on a thread while the
    report runs its first statements."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


sstats = _Deferred("scipy.stats")
sspecial = _Deferred("scipy.special")
kolmogorov = _Deferred("services.drift.stats._kolmogorov")


def _warm_up_pushdown() -> None:
    """Import what a pushdown report's statistics need (scipy.special and the KS distribution)."""
    sspecial.__getattr__("chdtrc")
    kolmogorov.__getattr__("kstwo_sf")


def warm_up() -> None:
    """Import every module a statistic may need now, scipy.stats included (idempotent)."""
    sstats.__getattr__("ks_2samp")
    _warm_up_pushdown()


_warming: threading.Thread | None = None


def warm_up_in_background() -> None:
    """Start importing what a pushdown report's statistics need (scipy.special, not scipy.stats)
    on a background thread (once), so the import overlaps the report's SQL passes; the first
    statistic waits for it through Python's import lock."""
    global _warming
    if _warming is None and kolmogorov._module is None:
        _warming = threading.Thread(target=_warm_up_pushdown, name="driftgate-scipy-import", daemon=True)
        _warming.start()


DECILES = tuple(round(0.1 * k, 1) for k in range(1, 10))  # 0.1 ... 0.9
# Quantile grid stored in profiles for the approximate KS / Wasserstein (0, 1/G, ..., 1).
GRID_SIZE = 1000


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


# -- multiple testing ----------------------------------------------------------------------------
def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, as ``scipy.stats.false_discovery_control(p,
    method="bh")``: p_(i) * m / i, made monotone from the largest down, clipped to [0, 1]."""
    if not p_values:
        return []
    ps = np.asarray(p_values, dtype=float)
    order = np.argsort(ps)
    adjusted = ps[order] * (len(ps) / np.arange(1, len(ps) + 1, dtype=float))
    np.minimum.accumulate(adjusted[::-1], out=adjusted[::-1])
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return [float(p) for p in np.clip(out, 0.0, 1.0)]


def chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail of the chi-square distribution, as ``scipy.stats.chi2.sf``."""
    return float(sspecial.chdtrc(dof, statistic))


# -- sensitivity: the smallest effect a window can detect ---------------------------------------
def ks_critical(n: int, m: int, level: float) -> float:
    """Asymptotic two-sample KS critical value at ``level``: c(level)·sqrt((n+m)/(n·m))."""
    return math.sqrt(-0.5 * math.log(level / 2.0)) * math.sqrt((n + m) / (n * m))


def _rows_for(needed_eff: float, n: int) -> int | None:
    """Smallest current size m with n·m/(n+m) >= needed_eff (None: the reference is too small)."""
    inv = 1.0 / needed_eff - 1.0 / n if needed_eff > 0 else -1.0
    return int(math.ceil(1.0 / inv)) if inv > 0 else None


def chi2_critical(p: Pair, level: float) -> tuple[float, float]:
    """Chi-square's critical value at ``level`` for the pair's categories (k - 1 df) and the
    effective size N = n·m/(n+m) (categorical sensitivities)."""
    n, m = p.ref.count, p.cur.count
    cats = len(set(p.ref.counts) | set(p.cur.counts))
    return float(sspecial.chdtri(max(cats - 1, 1), level)), n * m / (n + m)


def chi2_effect(scale: float, squared: bool) -> Callable[[Pair, float, float], dict[str, Any]]:
    """The sensitivity of a categorical effect E for which, for small changes, chi2 ≈ N·scale·E
    (``squared``: N·scale·E²), N = n·m/(n+m), against chi2's critical value (k - 1 df)."""

    def sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any]:
        crit, n_eff = chi2_critical(p, level)
        min_det = crit / (scale * n_eff)
        power = threshold * threshold if squared else threshold
        needed = crit / (scale * power) if threshold > 0 else math.inf
        need = _rows_for(needed, p.ref.count) if math.isfinite(needed) else None
        min_det = math.sqrt(min_det) if squared else min_det
        return {"min_detectable": min_det, "detectable": bool(min_det <= threshold), "rows_needed": need}

    return sensitivity


def _reference_cdf(ref: FeatureProfile) -> tuple[np.ndarray, np.ndarray] | None:
    """(points, P(X <= point)) of a numeric reference profile: its exact counts at the CDF points
    (memory and DuckDB profiles), else its discrete-quantile grid."""
    if ref.points and ref.cdf and len(ref.points) == len(ref.cdf) and ref.count:
        return np.asarray(ref.points, dtype=float), np.asarray(ref.cdf, dtype=float) / ref.count
    grid = np.asarray(ref.grid or [], dtype=float)
    if grid.size < 2:
        return None
    return grid, np.arange(grid.size, dtype=float) / (grid.size - 1)


# -- summaries -----------------------------------------------------------------------------------
def numeric_summary(values: np.ndarray, rows: int) -> dict[str, Any]:
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
        "mean": finite_or_none(np.mean(values)),
        "std": finite_or_none(np.std(values, ddof=0)),
        "min": finite_or_none(np.min(values)),
        "median": finite_or_none(np.median(values)),
        "max": finite_or_none(np.max(values)),
    }


def categorical_summary(counts: dict[str, int], rows: int, reference: dict[str, int] | None = None) -> dict[str, Any]:
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
