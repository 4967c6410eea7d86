"""Jensen-Shannon distance, base 2 (numeric bins or categories; the default categorical effect)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from services.drift.stats.base import chi2_effect, sspecial
from services.drift.stats.registry import BOTH, StatTest

TEST = StatTest("jensenshannon", order=40, kinds=BOTH, p_value=False, default_threshold=0.1)
# for small changes chi2 ≈ N·8·ln2·JS²
TEST.detects("categorical")(chi2_effect(scale=8.0 * math.log(2.0), squared=True))


@TEST.binned
def jensenshannon(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2, on raw shares, as
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``: sqrt((KL(p||m) + KL(q||m)) / 2 / ln 2)
    with m = (p + q) / 2."""
    p = np.asarray(ref_counts, dtype=float)
    q = np.asarray(cur_counts, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = p / np.sum(p)
        q = q / np.sum(q)
        m = (p + q) / 2.0
        js = float(np.sum(sspecial.rel_entr(p, m)) + np.sum(sspecial.rel_entr(q, m))) / math.log(2.0)
        value = math.sqrt(js / 2.0) if js >= 0 else math.nan
    # identical inputs give exactly 0; rounding never goes below it
    return 0.0 if not math.isfinite(value) else max(0.0, value)
