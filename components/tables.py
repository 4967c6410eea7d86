"""Table helpers shared by the pages: missing values as an em dash whose column tooltip says why."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

DASH = "—"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def dashed(frame: pd.DataFrame, column: str, fmt: Callable[[Any], str]) -> pd.DataFrame:
    """``column`` as display text: ``fmt(value)``, or an em dash where the value is missing."""
    if column in frame:
        frame[column] = [DASH if _missing(v) else fmt(v) for v in frame[column]]
    return frame


def num(pattern: str) -> Callable[[Any], str]:
    return lambda v: format(float(v), pattern)
