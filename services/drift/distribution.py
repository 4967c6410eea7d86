"""Chart data of one feature's two profiles: bins / category counts and empirical CDF points."""

from __future__ import annotations

from typing import Any

import numpy as np

from services.drift import stats as S
from services.drift.profile import FeatureProfile


def distribution(ref: FeatureProfile, cur: FeatureProfile) -> dict[str, Any]:
    """Bin (numeric) or category counts of both sides, for overlaid distribution charts."""
    if ref.kind == "numeric":
        edges = ref.edges
        labels = []
        for i in range(len(edges) + 1):
            lo = "-inf" if i == 0 else f"{edges[i - 1]:.4g}"
            hi = "+inf" if i == len(edges) else f"{edges[i]:.4g}"
            labels.append(f"({lo}, {hi}" + (")" if i == len(edges) else "]"))
        return {
            "kind": "numeric",
            "labels": labels,
            "edges": list(edges),
            "reference": list(ref.bins),
            "current": list(cur.bins),
            "reference_grid": ref.grid[::10],
            "current_grid": cur.grid[::10],
            "reference_ecdf": ecdf_points(ref),
            "current_ecdf": ecdf_points(cur),
        }
    cats, rc, cc = S.align_categories(ref.counts, cur.counts)
    return {"kind": "categorical", "labels": cats, "reference": rc, "current": cc}


def ecdf_points(prof: FeatureProfile, limit: int = 400) -> dict[str, list[float]]:
    """A numeric profile's empirical CDF as step points ``{"x": [...], "y": [...]}`` (y in 0..1).

    From the counts at the reference's CDF points (both engines keep them; a grid is only kept
    for some columns), else the quantile grid, else the decile edges and bin counts. Repeated x
    (integer columns: many points share one value) keep the highest count, so the chart steps
    at each value; at most ``limit`` points."""
    count = int(prof.count or 0)
    xs: np.ndarray
    ys: np.ndarray
    if count and prof.points and len(prof.points) == len(prof.cdf):
        xs = np.asarray(prof.points, dtype=float)
        ys = np.asarray(prof.cdf, dtype=float) / count
    elif prof.grid:
        xs = np.asarray(prof.grid, dtype=float)
        ys = np.linspace(0.0, 1.0, len(xs))
    elif count and prof.edges and len(prof.bins) == len(prof.edges) + 1:
        xs = np.asarray(prof.edges, dtype=float)
        ys = np.cumsum(np.asarray(prof.bins[:-1], dtype=float)) / count
    else:
        return {"x": [], "y": []}
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], np.clip(ys[keep], 0.0, 1.0)
    if not xs.size:
        return {"x": [], "y": []}
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], np.maximum.accumulate(ys[order])
    last = np.r_[xs[1:] != xs[:-1], True]  # the last (highest) count of each distinct x
    xs, ys = xs[last], ys[last]
    top = (prof.summary or {}).get("max")
    if ys[-1] < 1.0 and isinstance(top, (int, float)) and np.isfinite(top) and top > xs[-1]:
        xs, ys = np.r_[xs, float(top)], np.r_[ys, 1.0]  # values beyond the reference's last point
    # A step chart needs only the points where the CDF rises (plus the ends): an integer column's
    # thousands of cell boundaries collapse to one step per value.
    rise = np.r_[True, ys[1:] != ys[:-1]]
    rise[-1] = True
    xs, ys = xs[rise], ys[rise]
    if xs.size > limit:
        pick = np.unique(np.r_[np.linspace(0, xs.size - 1, limit).round().astype(int), xs.size - 1])
        xs, ys = xs[pick], ys[pick]
    return {"x": xs.tolist(), "y": ys.tolist()}
