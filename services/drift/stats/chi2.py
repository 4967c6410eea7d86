"""Chi-square test of homogeneity (categorical; the default significance test)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from services.drift.stats.base import chi2_critical, sstats
from services.drift.stats.registry import CATEGORICAL, Pair, StatTest

TEST = StatTest("chi2", order=10, kinds=CATEGORICAL, p_value=True, default_threshold=0.05)


@TEST.binned
def chi2(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table (no Yates correction)."""
    table = np.asarray([ref_counts, cur_counts], dtype=float)
    res = sstats.chi2_contingency(table, correction=False)
    return float(res.statistic), float(res.pvalue)


@TEST.detects("categorical")
def _sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any]:
    """The critical chi-square statistic (the adjusted p-value decides alone)."""
    crit, _ = chi2_critical(p, level)
    return {"min_detectable": crit, "detectable": True, "rows_needed": None}
