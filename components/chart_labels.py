"""Text labels next to scatter points that neither overlap nor leave the plot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def label_positions(xs: Sequence[Any], rows: Sequence[object] | None = None) -> list[str]:
    """A Plotly ``textposition`` per point: neighbours (by x, within one y row) alternate above and
    below their marker; the leftmost label of a row opens to the right and the rightmost to the
    left, so neither is cut at the plot's edge."""
    rows = list(rows) if rows is not None else [0] * len(xs)
    out = ["top center"] * len(xs)
    for row in set(map(str, rows)):
        idx = sorted((i for i in range(len(xs)) if str(rows[i]) == row), key=lambda i: xs[i])
        for k, i in enumerate(idx):
            side = "top" if k % 2 == 0 else "bottom"
            across = "center"
            if len(idx) > 1 and k == 0:
                across = "right"
            elif len(idx) > 1 and k == len(idx) - 1:
                across = "left"
            out[i] = f"{side} {across}"
    return out


def padded_range(values: Sequence[Any], share: float = 0.12) -> list[float] | None:
    """An axis range with room for the labels beside the outermost points."""
    finite = [float(v) for v in values]
    if not finite:
        return None
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * share or abs(hi) * 0.05 or 1.0
    return [lo - pad, hi + pad]
