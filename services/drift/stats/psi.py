"""Population stability index (numeric bins or categories)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from services.drift.stats.base import chi2_critical, effect_sensitivity, shares
from services.drift.stats.registry import Pair, Result, StatTest

PSI_FLOOR = 0.0001


def psi(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Population stability index; zero shares replaced by 0.0001 (no renormalisation)."""
    r = shares(ref_counts)
    c = shares(cur_counts)
    r = np.where(r == 0, PSI_FLOOR, r)
    c = np.where(c == 0, PSI_FLOOR, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _counts(p: Pair) -> Result:
    return psi(p.ref_counts, p.cur_counts), None


def _sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any]:
    """For small changes chi2 ≈ N·psi with N = n·m/(n+m), against chi2's critical value."""
    crit, n_eff = chi2_critical(p, level)
    needed = crit / threshold if threshold > 0 else float("inf")
    return effect_sensitivity(crit / n_eff, threshold, needed, p.ref.count)


TEST = StatTest(
    name="psi",
    order=30,
    kinds=frozenset({"numeric", "categorical"}),
    p_value=False,
    default_threshold=0.2,
    implementations={"counts": _counts},
    sensitivity={"categorical": _sensitivity},
)
