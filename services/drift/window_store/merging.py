"""Combining day profiles into weeks and custom ranges (what is exact and what is not: see the
package doc)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from services.drift import stats as S
from services.drift.profile import FeatureProfile, Profile
from services.errors import BadInput


def median_from_cdf(points: Sequence[float], cdf: Sequence[int], count: int) -> tuple[float | None, float | None]:
    """The median interpolated inside its CDF cell, and that cell's width (the error bound)."""
    if not count or not points or len(points) != len(cdf):
        return None, None
    target = (count - 1) * 0.5 + 1  # numpy's linear median sits between ranks floor/ceil of this
    cum = np.asarray(cdf, dtype=float)
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(max(i, 0), len(points) - 1)
    if i == 0:
        return float(points[0]), 0.0
    lo, hi = float(points[i - 1]), float(points[i])
    c0, c1 = cum[i - 1], cum[i]
    frac = 0.0 if c1 <= c0 else (target - c0) / (c1 - c0)
    return lo + (hi - lo) * min(max(frac, 0.0), 1.0), hi - lo


def median_error(prof: Profile, name: str) -> float | None:
    """The bound on a combined range's median of ``name``: the width of the CDF cell holding it."""
    f = prof.features[name]
    return median_from_cdf(f.points, f.cdf, f.count)[1] if f.kind == "numeric" else None


def combine(profiles: Sequence[Profile], ref: Profile, window: str) -> Profile:
    """One profile of a range from its day profiles (see the module doc for what is exact)."""
    if not profiles:
        raise BadInput("no day profiles to combine (the range has no rows)")
    if len(profiles) == 1:
        only = profiles[0]
        return Profile(source=only.source, rows=only.rows, engine=only.engine, features=only.features, window=window)
    rows = sum(p.rows for p in profiles)
    feats: dict[str, FeatureProfile] = {}
    for name, ref_f in ref.features.items():
        parts = [p.features[name] for p in profiles if name in p.features]
        if len(parts) != len(profiles):
            raise BadInput(f"day profiles disagree on feature {name!r}")
        count = sum(f.count for f in parts)
        if ref_f.kind == "categorical":
            counts: dict[str, int] = {}
            for f in parts:
                for k, v in f.counts.items():
                    counts[k] = counts.get(k, 0) + int(v)
            feats[name] = FeatureProfile(
                name, "categorical", rows, count, S.categorical_summary(counts, rows, ref_f.counts), counts=counts
            )
            continue
        if any(not f.cdf or len(f.cdf) != len(parts[0].cdf) for f in parts):
            raise BadInput(f"day profiles of {name!r} carry no CDF counts (not mergeable)")
        bins = np.sum([f.bins for f in parts], axis=0).astype(int).tolist()
        cdf = np.sum([f.cdf for f in parts], axis=0).astype(int).tolist()
        tails = [math.fsum(f.tails[0] for f in parts if f.tails), math.fsum(f.tails[1] for f in parts if f.tails)]
        live = [f for f in parts if f.count]
        summary: dict[str, Any] = {
            "count": count,
            "missing_share": (rows - count) / rows if rows else 0.0,
            "mean": None,
            "std": None,
            "min": None,
            "median": None,
            "max": None,
        }
        if live:
            n = np.array([f.count for f in live], dtype=float)
            means = np.array([f.summary["mean"] for f in live], dtype=float)
            stds = np.array([f.summary["std"] or 0.0 for f in live], dtype=float)
            mean = math.fsum(n * means) / count
            m2 = math.fsum(n * stds**2 + n * (means - mean) ** 2)
            median, _ = median_from_cdf(parts[0].points, cdf, count)
            summary.update(
                mean=mean,
                std=math.sqrt(max(m2, 0.0) / count),
                min=min(f.summary["min"] for f in live),
                max=max(f.summary["max"] for f in live),
                median=median,
            )
        first = parts[0]
        feats[name] = FeatureProfile(
            name,
            "numeric",
            rows,
            count,
            summary,
            edges=list(first.edges),
            bins=bins,
            grid=[],
            points=list(first.points),
            cdf=cdf,
            tails=tails,
            cells=first.cells,
        )
    return Profile(source=profiles[0].source, rows=rows, engine=profiles[0].engine, features=feats, window=window)


def by_unit(days: Sequence[tuple[date, Profile]], unit: str, ref: Profile) -> list[tuple[date, Profile]]:
    """Day profiles grouped into the engine's windows: days as they are, weeks (ISO, from Monday,
    as DuckDB's DATE_TRUNC('week')) combined."""
    if unit == "day":
        return list(days)
    if unit != "week":
        raise BadInput("stored windows combine into days or weeks")
    weeks: dict[date, list[Profile]] = {}
    for d, p in days:
        weeks.setdefault(d - timedelta(days=d.weekday()), []).append(p)
    return [(w, combine(ps, ref, str(w))) for w, ps in sorted(weeks.items())]
