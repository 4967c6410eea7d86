"""The exact in-memory engine: a window's feature columns read (through DuckDB, so typing is the
pushdown engine's) into numpy, every statistic then computed exactly with scipy."""

from __future__ import annotations

import math
from typing import Any, Unpack

import numpy as np
from sqlglot import exp

from services.drift import stats as S
from services.drift.features import check_categorical, check_numeric
from services.drift.profile import FeatureProfile, Features, Profile, ProfileArgs
from services.drift.sql import numeric_value
from services.errors import BadInput
from services.warehouse.sources import Backend
from services.warehouse.sql import column, window_condition


def memory_profile(backend: Backend, features: Features, **args: Unpack[ProfileArgs]) -> Profile:
    """Read the window's feature columns and profile them exactly (values kept)."""
    side, bounds, ts, progress = args["side"], args["bounds"], args["ts"], args.get("progress")
    reference = args.get("reference")
    params: dict[str, Any] = {}
    projection = []
    for i, (name, kind) in enumerate(features):
        e = numeric_value(name) if kind == "numeric" else exp.cast(column(name), "VARCHAR")
        projection.append(exp.alias_(e, f"f{i}", quoted=True))
    q = exp.select(*projection).from_(backend.table.copy())
    cond = window_condition(ts, bounds[0], bounds[1], params)
    if cond is not None:
        q = q.where(cond)
    if not backend.in_process:  # the memory engine reads local data; a warehouse or Spark table stays where it is
        raise BadInput(f"the memory engine reads local files only; use --engine duckdb for {backend.engine} tables")
    arrays = backend.fetch_arrays(backend.render(q), params)
    cols = [arrays[f"f{i}"] for i in range(len(features))]
    rows = len(cols[0]) if cols else 0
    if rows == 0:
        raise BadInput(f"the {side} window is empty (0 rows)")
    out: dict[str, FeatureProfile] = {}
    for (name, kind), col in zip(features, cols):
        if progress:
            progress(f"{side}: {name}")
        ref_f = reference.features[name] if reference else None
        if kind == "numeric":
            mask = np.ma.getmaskarray(col)
            arr = np.asarray(np.ma.getdata(col), dtype=float)[~mask]
            infinite = int(np.isinf(arr).sum())
            vals = arr[np.isfinite(arr)]
            check_numeric(name, side, vals.size, infinite)
            edges = ref_f.edges if ref_f else S.decile_edges(vals)
            grid = S.quantile_grid(vals)
            points = S.cdf_points(grid) if ref_f is None else list(ref_f.points)
            out[name] = FeatureProfile(
                name,
                kind,
                rows,
                int(vals.size),
                S.numeric_summary(vals, rows),
                edges=list(edges),
                bins=S.bin_counts(vals, edges),
                grid=grid,
                values=vals,
                points=points,
                cdf=S.cumulative_at(np.sort(vals), points) if points else [],
            )
        else:
            obj = np.asarray(np.ma.getdata(col), dtype=object)[~np.ma.getmaskarray(col)]
            keep = np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) for v in obj], dtype=bool)
            vals = obj[keep].astype(str) if obj.size else np.asarray([], dtype=str)
            check_categorical(name, side, int(vals.size))
            cats, cnts = np.unique(vals, return_counts=True)
            counts = {str(c): int(n) for c, n in zip(cats, cnts)}
            out[name] = FeatureProfile(
                name,
                kind,
                rows,
                int(vals.size),
                S.categorical_summary(counts, rows, ref_f.counts if ref_f else None),
                counts=counts,
            )
    return Profile(
        source=args.get("source", ""), rows=rows, engine="memory", features=out, window=args.get("window", "all rows")
    )
