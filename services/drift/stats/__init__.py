"""The drift statistics of the spec's "Drift engine contract" (scipy's arithmetic on every engine).

``TESTS`` is the registry (:mod:`services.drift.stats.registry`): one module per statistic —
:mod:`~services.drift.stats.ks`, :mod:`~services.drift.stats.wasserstein`,
:mod:`~services.drift.stats.psi`, :mod:`~services.drift.stats.jensenshannon`,
:mod:`~services.drift.stats.chi2` — each with its implementations keyed by method (``exact``,
``cdf``, ``grid``, ``counts``). :func:`feature_stats` computes every test that applies to a
feature; :func:`sensitivity` asks the deciding test how small an effect the windows can detect.
What the tests share (binning, grids, BH, summaries) is :mod:`~services.drift.stats.base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.drift.stats.base import (
    DECILES,
    GRID_SIZE,
    align_categories,
    benjamini_hochberg,
    bin_counts,
    categorical_summary,
    cdf_points,
    counts_from_cumulative,
    cumulative_at,
    decile_edges,
    dedupe_edges,
    grid_probs,
    numeric_summary,
    quantile_grid,
    warm_up,
    warm_up_in_background,
)
from services.drift.stats.registry import Pair, StatTest, discover
from services.errors import BadInput
from services.numbers import finite_or_none

if TYPE_CHECKING:
    from services.drift.profile import FeatureProfile

TESTS: dict[str, StatTest] = discover()
NUMERIC_TESTS = tuple(n for n, t in TESTS.items() if "numeric" in t.kinds)
CATEGORICAL_TESTS = tuple(n for n, t in TESTS.items() if "categorical" in t.kinds)
P_VALUE_TESTS = frozenset(n for n, t in TESTS.items() if t.p_value)

__all__ = [
    "CATEGORICAL_TESTS",
    "DECILES",
    "GRID_SIZE",
    "NUMERIC_TESTS",
    "P_VALUE_TESTS",
    "TESTS",
    "Pair",
    "StatTest",
    "align_categories",
    "benjamini_hochberg",
    "bin_counts",
    "categorical_summary",
    "cdf_points",
    "counts_from_cumulative",
    "cumulative_at",
    "decile_edges",
    "dedupe_edges",
    "feature_stats",
    "grid_probs",
    "numeric_summary",
    "pair",
    "quantile_grid",
    "sensitivity",
    "warm_up",
    "warm_up_in_background",
]


def pair(ref: FeatureProfile, cur: FeatureProfile) -> Pair:
    """How the two profiles of a feature are compared: the raw values of both (``exact``), exact
    counts at the same CDF points (``cdf``), else their quantile grids (``grid``); categories as
    aligned count vectors (``counts``)."""
    if ref.kind == "numeric":
        if len(cur.bins) != len(ref.edges) + 1:
            raise BadInput(f"current profile of {ref.name!r} was not binned with the reference's edges")
        if ref.values is not None and cur.values is not None:
            method = "exact"
        elif ref.cdf and cur.cdf and len(ref.cdf) == len(cur.cdf) and cur.tails:
            method = "cdf"
        else:
            method = "grid"
        return Pair(ref, cur, method, list(ref.bins), list(cur.bins))
    _, rc, cc = align_categories(ref.counts, cur.counts)
    return Pair(ref, cur, "counts", rc, cc)


def feature_stats(p: Pair) -> dict[str, dict[str, float | None]]:
    """Every registered test that applies to the feature's kind: ``{test: {statistic, p_value}}``."""
    out = {}
    for name, test in TESTS.items():
        if p.ref.kind in test.kinds:
            statistic, p_value = test.compute(p)
            out[name] = {"statistic": finite_or_none(statistic), "p_value": finite_or_none(p_value)}
    return out


def sensitivity(p: Pair, test: str, threshold: float, level: float) -> dict[str, Any] | None:
    """The smallest ``test`` effect this pair of window sizes can detect at the per-feature level
    ``level`` (alpha / size of the BH family: what one drifted feature alone must reach), whether
    an effect of ``threshold`` is detectable, and the current rows that would make it so; None
    where the test has no closed form for the kind (e.g. numeric psi). An approximation ("≈") for
    display, never part of the decision."""
    n, m = int(p.ref.count), int(p.cur.count)
    fn = TESTS[test].sensitivity.get(p.ref.kind)
    if n <= 0 or m <= 0 or not 0 < level < 1 or fn is None:
        return None
    found = fn(p, threshold, level)
    if found is None:
        return None
    return {"effect": test, "threshold": float(threshold), "level": float(level), "current_rows": m, **found}
