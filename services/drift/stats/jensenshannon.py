"""Jensen-Shannon distance, base 2 (numeric bins or categories; the default categorical effect)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from services.drift.stats.base import chi2_critical, effect_sensitivity, sdistance, shares
from services.drift.stats.registry import Pair, Result, StatTest


def jensenshannon(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2, on raw shares (scipy)."""
    value = float(sdistance.jensenshannon(shares(ref_counts), shares(cur_counts), base=2))
    # scipy can return a tiny NaN-free negative-zero/rounding; identical inputs give exactly 0.
    return 0.0 if not math.isfinite(value) else max(0.0, value)


def _counts(p: Pair) -> Result:
    return jensenshannon(p.ref_counts, p.cur_counts), None


def _sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any]:
    """For small changes chi2 ≈ N·8·ln2·JS² with N = n·m/(n+m), against chi2's critical value."""
    crit, n_eff = chi2_critical(p, level)
    factor = 8.0 * math.log(2.0)
    needed = crit / (factor * threshold * threshold) if threshold > 0 else math.inf
    return effect_sensitivity(math.sqrt(crit / (factor * n_eff)), threshold, needed, p.ref.count)


TEST = StatTest(
    name="jensenshannon",
    order=40,
    kinds=frozenset({"numeric", "categorical"}),
    p_value=False,
    default_threshold=0.1,
    implementations={"counts": _counts},
    sensitivity={"categorical": _sensitivity},
)
