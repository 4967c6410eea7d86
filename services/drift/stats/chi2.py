"""Chi-square test of homogeneity (categorical; the default significance test)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from services.drift.stats.base import chi2_critical, chi2_sf
from services.drift.stats.registry import CATEGORICAL, Pair, StatTest

TEST = StatTest("chi2", order=10, kinds=CATEGORICAL, p_value=True, default_threshold=0.05)


@TEST.binned
def chi2(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table (no Yates correction), as
    ``scipy.stats.chi2_contingency(table, correction=False)``: Pearson's statistic against the
    expected counts row x column / total, k - 1 degrees of freedom (statistic 0 and p-value 1 for a
    single category); a zero expected count is a ValueError, as in scipy."""
    table = np.asarray([ref_counts, cur_counts], dtype=float)
    if np.any(table < 0):
        raise ValueError("All values in `observed` must be nonnegative.")
    if table.size == 0:
        raise ValueError("No data; `observed` has size 0.")
    with np.errstate(invalid="ignore", divide="ignore"):  # an all-zero table: NaN, as in scipy
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if np.any(expected == 0):
        raise ValueError("The internally computed table of expected frequencies has a zero element.")
    dof = table.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, chi2_sf(statistic, dof)


@TEST.detects("categorical")
def _sensitivity(p: Pair, threshold: float, level: float) -> dict[str, Any]:
    """The critical chi-square statistic (the adjusted p-value decides alone)."""
    crit, _ = chi2_critical(p, level)
    return {"min_detectable": crit, "detectable": True, "rows_needed": None}
