"""Jensen-Shannon distance, base 2 (numeric bins or categories; the default categorical effect)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.drift.stats.base import chi2_effect, sdistance, shares
from services.drift.stats.registry import BOTH, StatTest

TEST = StatTest("jensenshannon", order=40, kinds=BOTH, p_value=False, default_threshold=0.1)
# for small changes chi2 ≈ N·8·ln2·JS²
TEST.detects("categorical")(chi2_effect(scale=8.0 * math.log(2.0), squared=True))


@TEST.binned
def jensenshannon(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2, on raw shares (scipy)."""
    value = float(sdistance.jensenshannon(shares(ref_counts), shares(cur_counts), base=2))
    # scipy can return a tiny NaN-free negative-zero/rounding; identical inputs give exactly 0.
    return 0.0 if not math.isfinite(value) else max(0.0, value)
