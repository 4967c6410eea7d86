"""Numbers as the reports show them: one rule for "no value"."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> float | None:
    """``value`` as a plain float, or None for None, NaN and ±inf (JSON has no such numbers).
    Raises TypeError/ValueError for what ``float()`` rejects."""
    if value is None:
        return None
    x = float(value)
    return x if math.isfinite(x) else None
