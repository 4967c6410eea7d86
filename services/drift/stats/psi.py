"""Population stability index (numeric bins or categories)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.drift.stats.base import chi2_effect, shares
from services.drift.stats.registry import BOTH, StatTest

PSI_FLOOR = 0.0001
TEST = StatTest("psi", order=30, kinds=BOTH, p_value=False, default_threshold=0.2)
TEST.detects("categorical")(chi2_effect(scale=1.0, squared=False))  # chi2 ≈ N·psi for small changes


@TEST.binned
def psi(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """Population stability index; zero shares replaced by 0.0001 (no renormalisation)."""
    r = shares(ref_counts)
    c = shares(cur_counts)
    r = np.where(r == 0, PSI_FLOOR, r)
    c = np.where(c == 0, PSI_FLOOR, c)
    return float(np.sum((c - r) * np.log(c / r)))
