"""Drift reports: profiles in, the spec's JSON document out.

Engines:
* ``memory``: reads the window's columns (through DuckDB, so typing is identical to the pushdown
  engine) into numpy and computes every statistic exactly with scipy.
* ``duckdb`` (and ``databricks`` for warehouse tables): only aggregates leave the engine — exact
  decile edges, bin counts, category counts and summaries.
  DuckDB reference (three passes, no sort of any column): (1) summaries, category counts and a
  reservoir sample of 8,192 rows whose quantile grid picks a monotone cell map per column;
  (2) counts per cell (a GROUP BY on one number per value); (3) only the values inside the cells
  that hold each decile's order statistics, from which the exact deciles (numpy's arithmetic) and
  the exact counts at them follow. A current window is counted on the same cells (plus its exact
  median from the values around its cell), so the CDFs of both sides are exact at every cell
  boundary and KS/Wasserstein are off by at most the mass inside one cell (``"approximate":
  true``). Small columns (at most the sample size, whose grid is then exact) and columns no map
  spreads well keep QUANTILE_CONT deciles and a HISTOGRAM at the grid's points. Column groups
  run concurrently on DuckDB cursors. Databricks: exact PERCENTILE deciles and PERCENTILE_DISC
  grids (KS within ~1/1000).
Both feed :func:`compare`, which applies the decision rules of the spec.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from services.drift import stats as S
from services.drift.prefetch import ON_REFERENCE_CELLS, Prefetch
from services.drift.profile import FeatureProfile, Profile
from services.drift.sql import (
    GRID_SAMPLE,
    CellSpec,
    NumericSpec,
    categorical_query,
    cell_keys,
    cell_transform,
    cell_values_query,
    cells_cdf,
    cells_query,
    column,
    decode_numeric,
    edge_counts_query,
    floats_or_empty,
    grouped_cells_query,
    histogram_cdf,
    numeric_query,
    numeric_value,
    range_values_query,
    reference_quantiles_query,
    sample_query,
)
from services.errors import BadInput
from services.warehouse.sources import Backend, Source, Window, open_backend, resolve_window

ENGINES = ("memory", "duckdb", "spark")
DEFAULT_TESTS = {
    ("numeric", "small"): "ks",
    ("categorical", "small"): "chi2",
    ("numeric", "large"): "wasserstein",
    ("categorical", "large"): "jensenshannon",
}
DEFAULT_THRESHOLDS = {"ks": 0.05, "chi2": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.2}
_FLOATS = ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8")

Progress = Callable[[str], None]
# Cells per column when the reference is larger than the reservoir (see sql.CellSpec), and the most
# reservoir-grid slots (1/G of mass each) a cell of distinct values may be predicted to hold;
# columns no transform spreads that well keep the HISTOGRAM at sampled points.
CELLS = 2048
CELL_MAX_SLOTS = 2


# -- policy --------------------------------------------------------------------------------------
SIGNIFICANCE_TESTS = {"numeric": "ks", "categorical": "chi2"}
EFFECT_TESTS = ("wasserstein", "psi", "jensenshannon")


@dataclass(frozen=True)
class Policy:
    """Decision rules; defaults are the spec's, every key overridable in ``[drift]``.

    Default ("significant and meaningful", the same at every sample size): a feature drifts when
    its BH-adjusted significance p-value (``ks`` numeric / ``chi2`` categorical; the family is every
    feature with a p-value) is < ``alpha`` **and** its effect (``wasserstein`` / ``jensenshannon``,
    or the per-feature override ``psi`` / ``jensenshannon`` / ``wasserstein``) reaches its
    threshold; ``test = "ks"``/``"chi2"`` decides on the adjusted p-value alone.
    ``small_sample`` (legacy, off by default): the old switch on the reference's size — p-value
    tests up to that many reference values, distance thresholds alone above.
    """

    small_sample: int | None = None  # legacy rule when set (None: the spec's default rule)
    alpha: float = 0.05
    numeric_threshold: float = 0.1  # wasserstein / std
    categorical_threshold: float = 0.1  # jensenshannon
    drift_share: float = 0.5  # dataset drifted when share >= this
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # feature -> {test, threshold}
    importance: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, drift: dict[str, Any] | None, importance: dict[str, float] | None = None) -> Policy:
        d = dict(drift or {})
        try:
            overrides = {str(k): dict(v) for k, v in dict(d.get("features", {})).items()}
            imp = {str(k): float(v) for k, v in dict(d.get("importance", {})).items()}
            if importance:
                imp = {**{str(k): float(v) for k, v in importance.items()}, **imp}
            small = d.get("small_sample")
            pol = cls(
                small_sample=None if small is None or small is False else int(small),
                alpha=float(d.get("alpha", 0.05)),
                numeric_threshold=float(d.get("numeric_threshold", 0.1)),
                categorical_threshold=float(d.get("categorical_threshold", 0.1)),
                drift_share=float(d.get("drift_share_threshold", 0.5)),
                overrides=overrides,
                importance=imp,
            )
        except (TypeError, ValueError):
            raise BadInput("invalid [drift] configuration (numbers expected for thresholds)") from None
        if not 0.0 < pol.alpha < 1.0:
            raise BadInput(f"[drift] alpha must be between 0 and 1 (exclusive), got {pol.alpha:g}")
        for key, value in (
            ("numeric_threshold", pol.numeric_threshold),
            ("categorical_threshold", pol.categorical_threshold),
        ):
            if not value >= 0.0:
                raise BadInput(f"[drift] {key} must not be negative, got {value:g}")
        if not 0.0 <= pol.drift_share <= 1.0:
            raise BadInput(f"[drift] drift_share_threshold must be between 0 and 1, got {pol.drift_share:g}")
        if pol.small_sample is not None and pol.small_sample < 0:
            raise BadInput("[drift] small_sample (legacy rule) must not be negative")
        for name, o in overrides.items():
            test = o.get("test")
            if test is not None and test not in set(S.NUMERIC_TESTS) | set(S.CATEGORICAL_TESTS):
                raise BadInput(f"[drift.features.{name}] test must be one of ks, wasserstein, chi2, psi, jensenshannon")
            if "threshold" in o:
                th = o["threshold"]
                if isinstance(th, bool) or not isinstance(th, (int, float)):
                    raise BadInput(f"[drift.features.{name}] threshold must be a number")
                if not th >= 0:
                    raise BadInput(f"[drift.features.{name}] threshold must not be negative, got {th:g}")
                if test in S.P_VALUE_TESTS and not 0 < th < 1:
                    raise BadInput(f"[drift.features.{name}] threshold of {test} is a p-value level in (0, 1)")
        return pol

    @classmethod
    def from_settings(cls, settings, importance: dict[str, float] | None = None) -> Policy:
        return cls.from_config(settings.section("drift") if settings is not None else {}, importance)

    @property
    def legacy(self) -> bool:
        return self.small_sample is not None

    def significance_test(self, kind: str) -> str:
        return SIGNIFICANCE_TESTS[kind]

    def choose(self, name: str, kind: str, n: int) -> tuple[str, float]:
        """The deciding test of a feature (the report's ``test``) and its threshold: the effect
        test (or, for ``ks``/``chi2`` overrides, the p-value test and its level)."""
        o = self.overrides.get(name, {})
        test = o.get("test")
        if test is not None:
            allowed = S.NUMERIC_TESTS if kind == "numeric" else S.CATEGORICAL_TESTS
            if test not in allowed:
                raise BadInput(f"test {test!r} does not apply to {kind} feature {name!r}")
        elif self.legacy:
            test = DEFAULT_TESTS[(kind, "small" if n <= self.small_sample else "large")]
        else:
            test = DEFAULT_TESTS[(kind, "large")]
        if "threshold" in o:
            return test, float(o["threshold"])
        if test in S.P_VALUE_TESTS:
            return test, self.alpha
        if test == "wasserstein":
            return test, self.numeric_threshold
        if test == "jensenshannon" and "test" not in o:
            return test, self.numeric_threshold if kind == "numeric" else self.categorical_threshold
        return test, DEFAULT_THRESHOLDS[test]


# -- feature typing ------------------------------------------------------------------------------
def is_float_type(sql_type: str) -> bool:
    return sql_type.upper().split("(")[0] in _FLOATS


def plan_features(
    backend_ref: Backend,
    backend_cur: Backend,
    *,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] = (),
    categorical: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """(name, kind) in report order, validated against both sides' schemas."""
    ref_cols, cur_cols = backend_ref.columns, backend_cur.columns
    both = set(numerical) & set(categorical)
    if both:
        raise BadInput(f"column {sorted(both)[0]!r} is forced both numerical and categorical")
    if columns:
        names = list(dict.fromkeys(columns))
        for extra in list(numerical) + list(categorical):
            if extra not in names:
                names.append(extra)
    elif numerical or categorical:
        names = [c for c in ref_cols if c in cur_cols]
        for extra in list(numerical) + list(categorical):
            if extra not in names:
                names.append(extra)
    else:
        names = [c for c in ref_cols if c in cur_cols]
    out = []
    for name in names:
        for side, cols in (("reference", ref_cols), ("current", cur_cols)):
            if name not in cols:
                raise BadInput(f"column {name!r} is missing from the {side} data")
        if name in numerical:
            for side, b in (("reference", backend_ref), ("current", backend_cur)):
                if not b.is_numeric(name):
                    raise BadInput(
                        f"column {name!r} is forced numerical but is {b.columns[name].lower()} in the {side} data"
                    )
            kind = "numeric"
        elif name in categorical:
            kind = "categorical"
        else:
            kind = "numeric" if backend_ref.is_numeric(name) and backend_cur.is_numeric(name) else "categorical"
        out.append((name, kind))
    if not out:
        raise BadInput("no columns to compare (the two sides share no column)")
    return out


# -- profiling -----------------------------------------------------------------------------------
def _check_numeric(name: str, side: str, count: int, infinite: int) -> None:
    if infinite:
        raise BadInput(f"column {name!r} has infinite values in the {side} data")
    if count == 0:
        raise BadInput(f"column {name!r} has no non-missing values in the {side} data")


def _check_categorical(name: str, side: str, count: int) -> None:
    if count == 0:
        raise BadInput(f"column {name!r} has no non-missing values in the {side} data")


def choose_cells(grid: Sequence[float], lo: float, hi: float, count: int, n: int = CELLS) -> CellSpec | None:
    """A :class:`~services.drift.sql.CellSpec` for a column with ``count`` values in ``[lo, hi]``
    whose (sampled) quantile grid is ``grid``: the first transform (linear, log, -log) under which
    no cell is predicted to hold more than ``CELL_MAX_SLOTS`` grid slots of distinct values; None
    (keep the HISTOGRAM) for small columns or when none does."""
    g = np.asarray(grid, dtype=float)
    if count <= GRID_SAMPLE or g.size < 101 or not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return None
    size = g.size - 1
    q_lo, q_hi = float(max(g[size // 1000 or 1], lo)), float(min(g[size - (size // 1000 or 1)], hi))
    if q_hi <= q_lo:
        return None
    d_lo = float(g[size // 100]) - lo  # scale of the left tail: distance of the 1% quantile from the min
    d_hi = hi - float(g[size - size // 100])
    candidates = [("linear", 0.0)]
    if d_lo > 0:
        candidates.append(("log", lo - d_lo))
    if d_hi > 0:
        candidates.append(("neglog", hi + d_hi))
    for transform, shift in candidates:
        with np.errstate(all="ignore"):
            t_lo, t_hi = (float(t) for t in cell_transform(transform, shift, [q_lo, q_hi]))
            if not (np.isfinite(t_lo) and np.isfinite(t_hi)) or t_hi <= t_lo:
                continue
            k = n / (t_hi - t_lo)
            cells = np.clip(np.floor((cell_transform(transform, shift, np.clip(g, lo, hi)) - t_lo) * k), -1, n)
        # runs of grid slots sharing a cell; an atom alone in its cell is exact
        starts = np.flatnonzero(np.concatenate([[True], cells[1:] != cells[:-1]]))
        ends = np.concatenate([starts[1:], [g.size]]) - 1
        spread = g[ends] != g[starts]
        worst = int(np.max(np.where(spread, ends - starts, 0))) if starts.size else 0
        if worst <= CELL_MAX_SLOTS:
            return CellSpec(transform, t_lo, float(k), n, float(shift), float(lo), float(hi))
    return None


def memory_profile(
    backend: Backend,
    features: Sequence[tuple[str, str]],
    *,
    side: str,
    bounds: tuple[datetime | None, datetime | None],
    ts: str | None,
    reference: Profile | None = None,
    source: str = "",
    window: str = "all rows",
    progress: Progress | None = None,
) -> Profile:
    """Read the window's feature columns and profile them exactly (values kept)."""
    from sqlglot import exp

    from services.drift.sql import _window_condition, render

    params: dict[str, Any] = {}
    projection = []
    for i, (name, kind) in enumerate(features):
        e = numeric_value(name) if kind == "numeric" else exp.cast(column(name), "VARCHAR")
        projection.append(exp.alias_(e, f"f{i}", quoted=True))
    q = exp.select(*projection).from_(backend.table.copy())
    cond = _window_condition(ts, bounds[0], bounds[1], params)
    if cond is not None:
        q = q.where(cond)
    sql = render(q, backend.dialect)
    if backend.dialect == "duckdb":
        arrays = backend.conn.execute(sql, params).fetchnumpy()
        cols = [arrays[f"f{i}"] for i in range(len(features))]
        rows = len(cols[0]) if cols else 0
    else:  # the memory engine reads local data; a warehouse or Spark table stays where it is
        raise BadInput(f"the memory engine reads local files only; use --engine duckdb for {backend.engine} tables")
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
            _check_numeric(name, side, vals.size, infinite)
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
            _check_categorical(name, side, int(vals.size))
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
    return Profile(source=source, rows=rows, engine="memory", features=out, window=window)


def sql_profile(
    backend: Backend,
    features: Sequence[tuple[str, str]],
    *,
    side: str,
    bounds: tuple[datetime | None, datetime | None],
    ts: str | None,
    reference: Profile | None = None,
    source: str = "",
    window: str = "all rows",
    group_by: str | None = None,
    progress: Progress | None = None,
) -> Profile | list[tuple[Any, Profile]]:
    """Profile in the engine: a reference in two passes (deciles, then bin counts; three on DuckDB,
    see :func:`_duck_reference`), a current window against the reference's edges and cells or
    points. With ``group_by`` ("day"/"week"), one profile per window from the same grouped queries."""
    numeric = [n for n, k in features if k == "numeric"]
    cats = [n for n, k in features if k == "categorical"]
    duck = backend.dialect == "duckdb"
    # A DuckDB reference's first pass: the row count, category counts and a sample of rows only;
    # its summaries and exact deciles come from the later passes (see _duck_reference).
    duck_ref = duck and reference is None and not group_by
    specs = (
        []
        if duck_ref
        else [
            _current_spec(reference.features[n], duck, grouped=bool(group_by))
            if reference
            else NumericSpec(n, deciles=True)
            for n in numeric
        ]
    )
    if progress:
        progress(f"{side}: scanning {len(features)} columns")
    windows: dict[Any, dict[str, Any]] = {}
    batch = []  # statements run in the same batch as the numeric pass: category counts, row sample
    if cats:
        meta = [(n, is_float_type(backend.columns.get(n, ""))) for n in cats]
        batch.append(
            categorical_query(
                backend.table, backend.dialect, meta, ts=ts, start=bounds[0], end=bounds[1], group_by=group_by
            )
        )
    sample_groups = _groups(numeric, backend.parallelism) if duck_ref else []
    for g in sample_groups:  # a sample per column group: each statement scans on one thread
        batch.append(sample_query(backend.table, g, ts=ts, start=bounds[0], end=bounds[1]))
    for w, rows, per in _numeric_pass(
        backend, specs, ts=ts, start=bounds[0], end=bounds[1], group_by=group_by, alongside=batch
    ):
        windows[w] = {"rows": rows, "numeric": dict(zip(numeric, per)), "counts": {n: {} for n in cats}}
    if sample_groups and None in windows:
        for g, (sample,) in zip(sample_groups, batch[len(batch) - len(sample_groups) :]):
            for i, n in enumerate(g):
                col = np.asarray(sample[i] or [], dtype=float)
                windows[None]["numeric"][n] = {"grid": S.quantile_grid(col) if col.size else []}
    if cats:
        for row in batch[0]:
            if group_by:
                w, k, v, n = row
            else:
                w, (k, v, n) = None, row
            if w not in windows:  # pragma: no cover - numeric query saw every window
                continue
            windows[w]["counts"][cats[int(k)]][str(v)] = int(n)
    if not group_by:
        if not windows or windows.get(None, {}).get("rows", 0) == 0:
            raise BadInput(f"the {side} window is empty (0 rows)")
    # Reference: the bin counts at its own edges (and, on DuckDB, its deciles and CDF structure).
    if reference is None and numeric and duck_ref:
        _duck_reference(
            backend,
            numeric,
            windows[None]["numeric"],
            windows[None]["rows"],
            side=side,
            ts=ts,
            start=bounds[0],
            end=bounds[1],
        )
    elif reference is None and numeric:
        for n in numeric:
            d = windows[None]["numeric"][n]
            _check_numeric(n, side, int(d["count"] or 0), int(d["infinite"] or 0))
        edge_specs = [
            NumericSpec(n, edges=tuple(S.dedupe_edges(windows[None]["numeric"][n]["deciles"]))) for n in numeric
        ]
        ((_, _, per),) = _numeric_pass(backend, edge_specs, ts=ts, start=bounds[0], end=bounds[1], only_bins=True)
        for spec, d in zip(edge_specs, per):
            windows[None]["numeric"][spec.name]["edges"] = list(spec.edges)
            windows[None]["numeric"][spec.name]["cumulative"] = d["cumulative"]
    results = []
    for w, doc in windows.items():
        rows = doc["rows"]
        feats: dict[str, FeatureProfile] = {}
        for name, kind in features:
            ref_f = reference.features[name] if reference else None
            if kind == "numeric":
                d = doc["numeric"][name]
                count = int(d["count"] or 0)
                if not group_by:
                    _check_numeric(name, side, count, int(d["infinite"] or 0))
                edges = list(ref_f.edges) if ref_f else d["edges"]
                summary = {
                    "count": count,
                    "missing_share": (rows - count) / rows if rows else 0.0,
                    "mean": S._f(d["mean"]),
                    "std": S._f(d["std"]),
                    "min": S._f(d["min"]),
                    "median": S._f(d["median"]),
                    "max": S._f(d["max"]),
                }
                points = list(ref_f.points) if ref_f else d.get("points", [])
                cells = ref_f.cells if ref_f else d.get("cells")
                feats[name] = FeatureProfile(
                    name,
                    kind,
                    rows,
                    count,
                    summary,
                    edges=edges,
                    bins=S.counts_from_cumulative(d["cumulative"], count),
                    grid=d["grid"],
                    points=points if d.get("cdf") else [],
                    cdf=d.get("cdf", []),
                    tails=d.get("tails", []),
                    cells=cells if d.get("cdf") else None,
                )
            else:
                counts = doc["counts"][name]
                count = int(sum(counts.values()))
                if not group_by:
                    _check_categorical(name, side, count)
                feats[name] = FeatureProfile(
                    name,
                    kind,
                    rows,
                    count,
                    S.categorical_summary(counts, rows, ref_f.counts if ref_f else None),
                    counts=counts,
                )
        results.append(
            (
                w,
                Profile(
                    source=source,
                    rows=rows,
                    engine=backend.engine,
                    features=feats,
                    window=str(w) if group_by else window,
                ),
            )
        )
    if group_by:
        return results
    return results[0][1]


def _groups(items: Sequence[Any], parts: int) -> list[list[Any]]:
    parts = max(1, min(parts, len(items)))
    size = -(-len(items) // parts) if items else 1
    return [list(items[k : k + size]) for k in range(0, len(items), size)]


def _duck_reference(
    backend: Backend, numeric: Sequence[str], docs: dict[str, dict[str, Any]], rows: int, *, side: str, **window
) -> None:
    """A DuckDB reference after its first pass (row count, a sample of rows and its quantile grid):
    fills each column's summaries, exact deciles, median, edges, counts at the edges and CDF
    structure, in two more passes.

    * Columns with cells (large, well spread; the map is chosen on the sample): pass 2 counts
      per cell, with each cell's sum, min, max and variance (the summaries combine them); the
      cells that hold the order statistics of each decile are then known, and pass 3 fetches only
      their values, from which the deciles (numpy's linear interpolation, same arithmetic) and
      the counts at them follow exactly — no sort of the column (QUANTILE_CONT's cost).
    * Other columns (windows of at most the sample size, whose sample is the whole window, or
      columns no map spreads well): pass 2 computes the summaries and deciles (QUANTILE_CONT);
      pass 3 counts at the edges and at the CDF points (HISTOGRAM at the grid plus the exact
      min/max).
    """
    cells = {
        n: choose_cells(
            docs[n]["grid"],
            docs[n]["grid"][0] if docs[n]["grid"] else math.nan,
            docs[n]["grid"][-1] if docs[n]["grid"] else math.nan,
            rows,
        )
        for n in numeric
    }
    with_cells = [NumericSpec(n, cells=cells[n]) for n in numeric if cells[n] is not None]
    others = [NumericSpec(n) for n in numeric if cells[n] is None]
    parts = backend.parallelism
    cell_groups = [g for g in _groups(with_cells, parts) if g]
    other_groups = [g for g in _groups(others, parts) if g]
    queries = [cells_query(backend.table, list(enumerate(g)), tails=False, **window) for g in cell_groups]
    queries += [reference_quantiles_query(backend.table, list(enumerate(g)), **window) for g in other_groups]
    results = iter(backend.execute_many(queries))
    cell_cdf: dict[str, list[int]] = {}
    for g in cell_groups:
        by_column = _split_cells(next(results))
        for k, spec in enumerate(g):
            d = _summary_from_cells(by_column.get(k), spec.cells, tails=False)
            _check_numeric(spec.name, side, d["count"], d["infinite"])
            cell_cdf[spec.name] = d["cdf"]
            exact = replace(spec.cells, min=float(d["min"]), max=float(d["max"]))  # the sample's were estimates
            d.update(points=exact.points(), cells=exact, tails=[])
            docs[spec.name].update(d)
    for g in other_groups:
        (row,) = next(results)
        for k, spec in enumerate(g):
            count, mean, std, lo, hi, deciles = row[6 * k : 6 * k + 6]
            infinite = int(lo == -math.inf) + int(hi == math.inf) if count else 0
            _check_numeric(spec.name, side, int(count or 0), infinite)
            docs[spec.name].update(
                count=int(count),
                mean=mean,
                std=std,
                min=lo,
                max=hi,
                infinite=infinite,
                deciles=floats_or_empty(deciles),
                cells=None,
            )
    hook = ON_REFERENCE_CELLS.get()
    if hook is not None:  # the cell maps are final: a current window may start counting on them
        hook({s.name: docs[s.name]["cells"] for g in cell_groups for s in g})
    # Pass 3: the values inside the deciles' cells; counts at the other columns' edges and points.
    ranks = {n: _decile_ranks(int(docs[n]["count"] or 0), cdf) for n, cdf in cell_cdf.items()}
    edge_specs = [
        NumericSpec(
            s.name,
            edges=tuple(S.dedupe_edges(docs[s.name]["deciles"])),
            points=tuple(S.cdf_points(list(docs[s.name]["grid"]) + [docs[s.name]["min"], docs[s.name]["max"]])),
        )
        for s in others
    ]
    edge_groups = [g for g in _groups(edge_specs, parts) if g]
    queries = [
        cell_values_query(
            backend.table,
            list(enumerate(g)),
            {k: sorted({c for _, c, _ in ranks[s.name]}) for k, s in enumerate(g)},
            **window,
        )
        for g in cell_groups
    ]
    queries += [edge_counts_query(backend.table, list(enumerate(g)), **window) for g in edge_groups]
    results = iter(backend.execute_many(queries))
    for g in cell_groups:
        found: dict[int, dict[int, list[np.ndarray]]] = {k: {} for k in range(len(g))}
        for k, key, xs in next(results):  # unclamped keys: cells -1 and n may come in several rows
            cell = int(cell_keys([key], g[int(k)].cells.n, tails=False)[0])
            found[int(k)].setdefault(cell, []).append(np.asarray(xs, dtype=float))
        for k, spec in enumerate(g):
            values = {}
            for cell, parts in found[k].items():
                distinct, counts = np.unique(np.concatenate(parts), return_counts=True)
                values[cell] = (distinct, np.cumsum(counts))
            _deciles_from_cells(docs[spec.name], cell_cdf[spec.name], ranks[spec.name], values)
    for g in edge_groups:
        (row,) = next(results)
        pos = 0
        for spec in g:
            docs[spec.name]["cumulative"] = [int(x or 0) for x in row[pos : pos + len(spec.edges)]]
            docs[spec.name].update(
                edges=list(spec.edges),
                points=list(spec.points),
                cdf=histogram_cdf(row[pos + len(spec.edges)], spec.points),
            )
            pos += len(spec.edges) + 1
    for n in numeric:
        d = docs[n]
        d["median"] = float(d["deciles"][S.DECILES.index(0.5)]) if d["deciles"] else None


def _order_ranks(count: int, p: float) -> tuple[int, int, np.float64]:
    """numpy's linear quantile method: the 0-based ranks of the two order statistics behind the
    ``p`` quantile of ``count`` values, and the virtual index (n - 1) p between them."""
    virtual = (count - 1) * np.float64(p)
    if virtual >= count - 1:
        return count - 1, count - 1, virtual
    prev = int(np.floor(virtual))
    return prev, prev + 1, virtual


def _lerp(a: float, b: float, virtual: np.float64) -> float:
    """numpy's ``_lerp`` arithmetic between the order statistics ``a`` <= ``b`` at ``virtual``."""
    a, b = np.float64(a), np.float64(b)
    t = virtual - np.floor(virtual)
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def _rank_cells(cum: Sequence[int], ranks: Sequence[int]) -> list[tuple[int, int, int]]:
    """Where 0-based ranks fall: (rank, its cell, rank of that cell's first value), from a cells
    CDF (``cum[j + 2]`` = values in cells <= j, the profile's ``cdf``)."""
    cum = np.asarray(cum, dtype=np.int64)
    slots = np.searchsorted(cum, ranks, side="right")
    return [(int(rank), int(slot) - 2, int(cum[slot - 1]) if slot else 0) for rank, slot in zip(ranks, slots)]


def _decile_ranks(count: int, cum: Sequence[int]) -> list[tuple[int, int, int]]:
    """The two order statistics behind each decile (see :func:`_rank_cells`)."""
    return _rank_cells(cum, [rank for p in S.DECILES for rank in _order_ranks(count, p)[:2]])


def _deciles_from_cells(
    doc: dict[str, Any],
    cum: Sequence[int],
    ranks: list[tuple[int, int, int]],
    values: dict[int, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Exact deciles (the arithmetic of numpy's linear interpolation), the edges and the counts
    <= each edge: all cells before the upper order statistic's cell, plus its values <= the edge."""
    count = int(doc["count"] or 0)

    def value_at(rank: int, cell: int, first: int) -> float:
        xs, cs = values[cell]
        return float(xs[int(np.searchsorted(cs, rank - first, side="right"))])

    deciles, at_most = [], {}
    for j, p in enumerate(S.DECILES):
        (r0, c0, f0), (r1, c1, f1) = ranks[2 * j], ranks[2 * j + 1]
        e = _lerp(value_at(r0, c0, f0), value_at(r1, c1, f1), _order_ranks(count, p)[2])
        deciles.append(e)
        xs, cs = values[c1]
        inside = int(np.searchsorted(xs, e, side="right"))
        at_most[e] = int(cum[c1 + 1]) + (int(cs[inside - 1]) if inside else 0)
    doc["deciles"] = deciles
    doc["edges"] = S.dedupe_edges(deciles)
    doc["cumulative"] = [at_most[e] for e in doc["edges"]]


def _current_spec(ref_f: FeatureProfile, duck: bool, grouped: bool) -> NumericSpec:
    """A window against a reference feature: its edges, and its cells or points (DuckDB). Per-window
    (grouped) passes count at the cells' boundary points with HISTOGRAM instead: many small windows
    would return a row per cell each."""
    edges = tuple(ref_f.edges)
    if not (duck and ref_f.points):
        return NumericSpec(ref_f.name, edges=edges)
    if ref_f.cells is not None:  # grouped: summaries and edges per window in SQL, cells counted beside
        return NumericSpec(ref_f.name, edges=edges, cells=ref_f.cells, grid=not grouped)
    return NumericSpec(ref_f.name, edges=edges, points=tuple(ref_f.points))


def _numeric_pass(
    backend: Backend, specs: Sequence[NumericSpec], *, only_bins: bool = False, alongside: list | None = None, **window
) -> list[tuple[Any, int, list[dict]]]:
    """One scan's numeric aggregates as (window, rows, per-column dicts), in ``specs`` order. The
    same statement is built for every dialect; on DuckDB the columns are split into groups run
    concurrently (one statement per group, each reading only its columns). Columns with cells (a
    current window on DuckDB) are read by one cells statement per group instead, their summaries
    combined from the cells (see :func:`_cell_columns`). ``alongside``: more ``(sql, params)``
    statements to run in the same batch; replaced in place by their rows."""
    groups = _groups(specs, backend.parallelism) or [[]]
    grouped = bool(window.get("group_by"))
    by_cells = not grouped and not only_bins and backend.dialect == "duckdb"
    plain = [[s for s in g if not (by_cells and s.cells is not None)] for g in groups]
    cell_groups = [[(k, s) for k, s in enumerate(g) if s.cells is not None] for g in groups] if by_cells else []
    # groups whose columns all have cells need no statement, but one statement always counts the rows
    run = [i for i, g in enumerate(plain) if g] or [0]
    queries = [numeric_query(backend.table, backend.dialect, plain[i], only_bins=only_bins, **window) for i in run]
    cell_queries = [
        cells_query(backend.table, cg, ts=window.get("ts"), start=window.get("start"), end=window.get("end"))
        for cg in cell_groups
        if cg
    ]
    gcells = _grouped_cell_queries(backend, groups, window) if grouped and not only_bins else ([], [])
    extra = list(alongside or [])
    results = backend.execute_many(queries + cell_queries + gcells[0] + extra)
    if alongside is not None:
        alongside[:] = results[len(results) - len(extra) :]
        results = results[: len(results) - len(extra)]
    if gcells[0]:
        grouped_rows = results[len(results) - len(gcells[0]) :]
        results = results[: len(results) - len(gcells[0])]
    decoded: dict[Any, tuple[int, list[list[dict]]]] = {}
    order: list[Any] = []
    for gi, result in zip(run, results):
        for row in result:
            w, rows, per = decode_numeric(
                row, plain[gi], grouped=grouped, only_bins=only_bins, sorted_lists=backend.dialect == "duckdb"
            )
            if w not in decoded:
                decoded[w] = (rows, [[] for _ in groups])
                order.append(w)
            decoded[w][1][gi] = per
    if gcells[0]:
        return _grouped_cells(groups, decoded, order, gcells[1], grouped_rows)
    if not any(cell_groups):
        return [(w, decoded[w][0], [d for per in decoded[w][1] for d in per]) for w in order]
    # ungrouped: one window
    rows, per_group = decoded[None]
    cell_results = iter(results[len(queries) :])
    cell_docs: list[tuple[NumericSpec, dict]] = []
    merged: list[dict] = []
    for g, cg, per in zip(groups, cell_groups, per_group):
        by_column = _split_cells(next(cell_results)) if cg else {}
        plain_docs = iter(per)
        for k, spec in enumerate(g):
            if spec.cells is None:
                merged.append(next(plain_docs))
                continue
            d = _summary_from_cells(by_column.get(k), spec.cells)
            cell_docs.append((spec, d))
            merged.append(d)
    _cell_columns(backend, cell_docs, window)
    return [(None, rows, merged)]


def _grouped_cell_queries(backend: Backend, groups, window) -> tuple[list, list[int]]:
    """DuckDB per-window passes: one grouped cells statement per column group with cells (run in
    the same batch as the grouped numeric statements), and the groups they belong to."""
    if backend.dialect != "duckdb":
        return [], []
    queries, where = [], []
    for gi, g in enumerate(groups):
        cg = [(k, s) for k, s in enumerate(g) if s.cells is not None]
        if cg:
            queries.append(
                grouped_cells_query(
                    backend.table,
                    cg,
                    ts=window["ts"],
                    group_by=window["group_by"],
                    start=window.get("start"),
                    end=window.get("end"),
                )
            )
            where.append(gi)
    return queries, where


def _grouped_cells(groups, decoded, order, where, results) -> list[tuple[Any, int, list[dict]]]:
    """Per-window passes of columns with cells: their summaries and edge counts came from the
    grouped numeric statement; their CDF at the reference's points and tails from the grouped
    cells statements (rows per window and cell, see :func:`grouped_cells_query`)."""
    per_cell: dict[tuple[int, int, Any], list[tuple[float, float]]] = {}
    for gi, rows in zip(where, results):
        for k, w, key, n, total in rows:
            per_cell.setdefault((gi, int(k), w), []).append((float(key), float(n), float(total or 0.0)))
    out = []
    for w in order:
        rows, per_group = decoded[w]
        merged = []
        for gi, (g, per) in enumerate(zip(groups, per_group)):
            for k, (spec, d) in enumerate(zip(g, per)):
                if spec.cells is not None:
                    table = np.array(per_cell.get((gi, k, w), []), dtype=float).reshape(-1, 3)
                    d["cdf"], d["tails"] = cells_cdf(table, spec.cells, tails=True)
                merged.append(d)
        out.append((w, rows, merged))
    return out


def _split_cells(rows: list[tuple]) -> dict[int, np.ndarray]:
    """A cells statement's rows ``(k, key, n, sum, min, max, var_pop)`` as one array per column ``k``
    (columns ``key`` … ``var_pop``; NULL as NaN)."""
    if not rows:
        return {}
    table = np.array(rows, dtype=float)
    ks = table[:, 0].astype(np.int64)
    return {int(k): table[ks == k, 1:] for k in np.unique(ks)}


def _summary_from_cells(table: np.ndarray | None, cells: CellSpec, tails: bool = True) -> dict[str, Any]:
    """A column's summaries from its cells' ``(key, n, sum, min, max, var_pop)``: counts, mean,
    population std (Chan et al.'s pairwise combination), min/max, infinities, and the CDF at the
    cells' boundaries plus (``tails``: a current window) the tails outside the reference's range
    (see :func:`cells_cdf`)."""
    table = np.empty((0, 6)) if table is None else table
    cdf, outside = cells_cdf(table, cells, tails)
    out: dict[str, Any] = {
        "count": 0,
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "median": None,
        "infinite": 0,
        "grid": [],
        "cdf": cdf,
        "tails": outside,
    }
    if not table.size:
        return out
    n, sums, lows, highs, var = np.nan_to_num(table[:, 1:6].T, nan=0.0, posinf=np.inf, neginf=-np.inf)
    count = int(n.sum())
    lo, hi = float(lows.min()), float(highs.max())
    out.update(count=count, min=lo, max=hi, infinite=int(lo == -math.inf) + int(hi == math.inf))
    if out["infinite"] or count == 0:
        return out
    # (fsum over Python floats: iterating a numpy array yields numpy scalars, 20x slower; same sum)
    mean = math.fsum(sums.tolist()) / count
    m2 = math.fsum((n * var + n * (sums / n - mean) ** 2).tolist())
    out.update(mean=mean, std=math.sqrt(max(m2, 0.0) / count))
    return out


def _cell_columns(backend: Backend, columns: list[tuple[NumericSpec, dict]], window: dict) -> None:
    """For a current window's cell columns: the counts at the reference's edges and the exact
    median, in one more scan. The cells of the two middle order statistics are known from the cell
    counts, so the scan fetches only the values in those cells (widened by a cell each side) and
    counts the values below them; a median outside the reference's range is computed by
    QUANTILE_CONT instead."""
    if not columns:
        return
    specs, fallback = [], []
    for k, (spec, d) in enumerate(columns):
        count, points = int(d["count"] or 0), spec.cells.points()
        lo, hi, ranks = math.inf, -math.inf, None
        if count:
            r0, r1, virtual = _order_ranks(count, 0.5)
            (_, c0, _), (_, c1, _) = _rank_cells(d["cdf"], [r0, r1])
            if c0 >= -1 and c1 <= spec.cells.n - 1 and c1 < len(d["cdf"]) - 2:
                lo, hi = float(points[max(c0, 0)]), float(points[min(c1 + 3, len(points) - 1)])
                ranks = (r0, r1, virtual)
            else:
                fallback.append((spec, d))
        specs.append((k, spec, lo, hi, ranks))
    queries = []
    for group in _groups(specs, backend.parallelism):  # one statement per core: each branch scans on one thread
        sql, params = range_values_query(
            backend.table,
            [(k, spec.name, len(spec.edges or ())) for k, spec, *_ in group],
            ts=window.get("ts"),
            start=window.get("start"),
            end=window.get("end"),
        )
        for k, spec, lo, hi, _ in group:
            params[f"a{k}"], params[f"b{k}"] = lo, hi
            for j, edge in enumerate(spec.edges or ()):
                params[f"e{k}_{j}"] = float(edge)
        queries.append((sql, params))
    found = {int(row[0]): row[1:] for result in backend.execute_many(queries) for row in result}
    for k, spec, lo, hi, ranks in specs:
        d = columns[k][1]
        below, values, at_edges = found[k]
        d["cumulative"] = [int(x or 0) for x in (at_edges or [])]
        if ranks is None:
            continue
        r0, r1, virtual = ranks
        values = np.sort(np.asarray(values or [], dtype=float))
        i0, i1 = r0 - int(below or 0), r1 - int(below or 0)
        if not (0 <= i0 <= i1 < values.size):  # pragma: no cover - the widened range missed it
            fallback.append((spec, d))
            continue
        d["median"] = _lerp(values[i0], values[i1], virtual)
    for spec, d in fallback:
        only = [NumericSpec(spec.name, grid=False)]
        sql, params = numeric_query(backend.table, "duckdb", only, **window)
        (row,) = backend.execute(sql, params)
        d["median"] = decode_numeric(row, only, grouped=False, sorted_lists=True)[2][0]["median"]


# -- comparison ----------------------------------------------------------------------------------
def _stat(statistic, p_value=None) -> dict[str, float | None]:
    return {"statistic": S._f(statistic), "p_value": S._f(p_value)}


def feature_stats(ref: FeatureProfile, cur: FeatureProfile) -> tuple[dict[str, dict], bool]:
    """All statistics of one feature; second value: whether any was approximated."""
    if ref.kind == "numeric":
        if len(cur.bins) != len(ref.edges) + 1:
            raise BadInput(f"current profile of {ref.name!r} was not binned with the reference's edges")
        exact = ref.values is not None and cur.values is not None
        if exact:
            ks_s, ks_p = S.ks(ref.values, cur.values)
            w = S.wasserstein_normed(ref.values, cur.values)
        elif ref.cdf and cur.cdf and len(ref.cdf) == len(cur.cdf) and cur.tails:
            rs, cs = ref.summary, cur.summary
            ks_s, ks_p = S.ks_from_cdf(ref.cdf, cur.cdf, ref.count, cur.count)
            if (rs["std"] or 0.0) == 0.0:  # constant reference rule
                w = 0.0 if (cs["min"] == rs["min"] and cs["max"] == rs["max"]) else None
            else:
                w = S.wasserstein_from_cdf(
                    ref.points, ref.cdf, cur.cdf, ref.count, cur.count, cur.tails[0], cur.tails[1], rs["std"]
                )
        else:
            ks_s, ks_p = S.ks_from_grids(ref.grid, cur.grid, ref.count, cur.count)
            rs, cs = ref.summary, cur.summary
            w = S.wasserstein_from_grids(
                ref.grid, cur.grid, rs["std"] or 0.0, rs["min"], rs["max"], cs["min"], cs["max"]
            )
        return {
            "ks": _stat(ks_s, ks_p),
            "wasserstein": _stat(w),
            "psi": _stat(S.psi(ref.bins, cur.bins)),
            "jensenshannon": _stat(S.jensenshannon(ref.bins, cur.bins)),
        }, not exact
    _, rc, cc = S.align_categories(ref.counts, cur.counts)
    c2, p = S.chi2(rc, cc)
    return {"chi2": _stat(c2, p), "psi": _stat(S.psi(rc, cc)), "jensenshannon": _stat(S.jensenshannon(rc, cc))}, False


def compare(
    reference: Profile,
    current: Profile,
    policy: Policy | None = None,
    order: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The spec's drift report for two profiles (the one place the decision rule is applied, for
    every engine, the over-time windows, the trigger and the gate)."""
    policy = policy or Policy()
    names = list(order) if order else list(reference.features)
    rows: list[dict[str, Any]] = []
    approximate = False
    for name in names:
        if progress:
            progress(f"testing {name}")
        ref_f, cur_f = reference.features[name], current.features[name]
        st, approx = feature_stats(ref_f, cur_f)
        approximate |= approx
        test, threshold = policy.choose(name, ref_f.kind, ref_f.count)
        sig = test if policy.legacy else policy.significance_test(ref_f.kind)
        rows.append(
            {
                "feature": name,
                "kind": ref_f.kind,
                "test": test,
                "statistic": st[test]["statistic"],
                "p_value": st[sig]["p_value"],
                "p_value_adjusted": None,
                "threshold": threshold,
                "drifted": False,
                "stats": st,
                "summary": {"reference": dict(ref_f.summary), "current": dict(cur_f.summary)},
            }
        )
    if policy.legacy:
        _decide_legacy(rows)
    else:
        _decide(rows, policy, reference, current, names)
    drifted = sum(r["drifted"] for r in rows)
    total = len(rows)
    share = drifted / total if total else 0.0
    return {
        "reference": {"source": reference.source, "rows": reference.rows},
        "current": {"source": current.source, "rows": current.rows},
        "engine": current.engine if current.engine != "memory" or reference.engine == "memory" else reference.engine,
        "approximate": bool(approximate),
        "features": rows,
        "dataset": {
            "drifted_features": int(drifted),
            "total_features": total,
            "drift_share": share,
            "threshold": policy.drift_share,
            "drifted": bool(total and share >= policy.drift_share),
            "weighted_drift_share": weighted_share(rows, policy.importance),
        },
    }


def _decide(
    rows: list[dict[str, Any]], policy: Policy, reference: Profile, current: Profile, names: Sequence[str]
) -> None:
    """The spec's default: BH over every feature with a p-value; drifted = adjusted p < alpha and
    effect >= threshold (a null effect counts as reached); ks/chi2 overrides: adjusted p alone.
    Adds ``alpha``, ``significant`` and ``sensitivity`` to each row (extra keys)."""
    family = [r for r in rows if r["p_value"] is not None]
    for r, padj in zip(family, S.benjamini_hochberg([r["p_value"] for r in family])):
        r["p_value_adjusted"] = padj
    level = policy.alpha / max(len(family), 1)  # what one feature alone must reach under BH
    for r, name in zip(rows, names):
        padj = r["p_value_adjusted"]
        if r["test"] in S.P_VALUE_TESTS:
            r["significant"] = padj is not None and padj < r["threshold"]
            r["drifted"] = bool(r["significant"])
            r["alpha"] = r["threshold"]
        else:
            r["significant"] = padj is not None and padj < policy.alpha
            reached = r["statistic"] is None or r["statistic"] >= r["threshold"]
            r["drifted"] = bool(r["significant"] and reached)
            r["alpha"] = policy.alpha
        r["sensitivity"] = S.sensitivity(
            reference.features[name],
            current.features[name],
            r["test"],
            r["threshold"],
            level if r["test"] not in S.P_VALUE_TESTS else r["threshold"] / max(len(family), 1),
        )


_EFFECT_WORDS = {
    "wasserstein": "a {t:g}-std shift",
    "jensenshannon": "a Jensen-Shannon {t:g} change",
    "psi": "a PSI {t:g} change",
}


def sensitivity_note(row: dict[str, Any]) -> str | None:
    """One line for a feature whose window cannot detect a change of its threshold's size
    ("window too small to detect a 0.1-std shift: 80 rows; need ≈ 1,500"), else None."""
    sens = row.get("sensitivity")
    if not sens or sens.get("detectable", True) or row.get("test") not in _EFFECT_WORDS:
        return None
    what = _EFFECT_WORDS[row["test"]].format(t=float(row["threshold"]))
    need = sens.get("rows_needed")
    tail = f"need ≈ {need:,}" if need else "not reachable with this reference (too few reference rows)"
    return f"window too small to detect {what}: {int(sens['current_rows']):,} rows; {tail}"


def _decide_legacy(rows: list[dict[str, Any]]) -> None:
    """The old rule (``[drift] small_sample`` set): BH over the p-value-decided features,
    distance thresholds alone for the others (their ``p_value`` is null)."""
    family = [r for r in rows if r["test"] in S.P_VALUE_TESTS]
    adjusted = S.benjamini_hochberg([r["p_value"] if r["p_value"] is not None else 1.0 for r in family])
    for r, padj in zip(family, adjusted):
        r["p_value_adjusted"] = padj
        r["drifted"] = bool(padj < r["threshold"])
    for r in rows:
        if r["test"] not in S.P_VALUE_TESTS:
            r["p_value"] = None
            r["drifted"] = True if r["statistic"] is None else bool(r["statistic"] >= r["threshold"])


def weighted_share(rows: Iterable[dict], importance: dict[str, float]) -> float | None:
    if not importance:
        return None
    known = [(r["feature"], r["drifted"]) for r in rows if r["feature"] in importance]
    total = sum(abs(importance[f]) for f, _ in known)
    if not known or total <= 0:
        return None
    return sum(abs(importance[f]) for f, d in known if d) / total


# -- one-call reports ----------------------------------------------------------------------------
def profile_key(source: Source, window: Window, features: Sequence[tuple[str, str]]) -> str:
    doc = {
        "source": [source.type, source.path, source.table, source.version],
        "window": [window.timestamp, str(window.start), str(window.end), window.days],
        "features": list(map(list, features)),
        "grid": S.GRID_SIZE,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def build_reference_profile(
    source: Source,
    features: Sequence[tuple[str, str]],
    *,
    window: Window | None = None,
    engine: str = "duckdb",
    settings=None,
    connection_factory=None,
    progress: Progress | None = None,
) -> Profile:
    """Profile a reference once (store it with :meth:`Profile.save`, reuse it with :func:`drift_report`)."""
    window = window or Window()
    with open_backend(source, settings, connection_factory) as b:
        bounds = resolve_window(b, window)
        fn = memory_profile if engine == "memory" else sql_profile
        prof = fn(
            b,
            features,
            side="reference",
            bounds=bounds,
            ts=window.timestamp,
            source=source.name,
            window=window.describe(),
            progress=progress,
        )
    prof.key = profile_key(source, window, features)
    return prof


def drift_report(
    reference: Source | Profile,
    current: Source,
    *,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] = (),
    categorical: Sequence[str] = (),
    engine: str = "memory",
    reference_window: Window | None = None,
    current_window: Window | None = None,
    policy: Policy | None = None,
    settings=None,
    connection_factory=None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Reference (a source, or a stored profile) vs current: the spec's JSON report as a dict."""
    if engine not in ENGINES + ("databricks",):
        raise BadInput(f"unknown engine {engine!r} (memory, duckdb or spark)")
    if engine == "spark":  # the same files (or Spark tables) read and aggregated by Spark
        from services.warehouse.sources import on_spark

        current = on_spark(current)
        reference = reference if isinstance(reference, Profile) else on_spark(reference)
    policy = policy or Policy.from_settings(settings)
    with open_backend(current, settings, connection_factory) as cur_b:
        if isinstance(reference, Profile):
            return report_on_backends(
                reference,
                cur_b,
                columns=columns,
                numerical=numerical,
                categorical=categorical,
                engine=engine,
                current_window=current_window,
                policy=policy,
                progress=progress,
                current_name=current.name,
            )
        with open_backend(reference, settings, connection_factory) as ref_b:
            return report_on_backends(
                ref_b,
                cur_b,
                columns=columns,
                numerical=numerical,
                categorical=categorical,
                engine=engine,
                reference_window=reference_window,
                current_window=current_window,
                policy=policy,
                progress=progress,
                reference_name=reference.name,
                current_name=current.name,
            )


def report_on_backends(
    ref: Backend | Profile,
    cur_b: Backend,
    *,
    columns=None,
    numerical=(),
    categorical=(),
    engine: str = "memory",
    reference_window: Window | None = None,
    current_window: Window | None = None,
    policy: Policy | None = None,
    progress: Progress | None = None,
    reference_name: str = "reference",
    current_name: str = "current",
) -> dict[str, Any]:
    policy = policy or Policy()
    if engine != "memory":
        S.warm_up_in_background()
    reference_window = reference_window or Window()
    current_window = current_window or Window()
    if isinstance(ref, Profile):
        ref_prof = ref
        features = _features_from_profile(ref_prof, cur_b, columns, numerical, categorical)
    else:
        features = plan_features(ref, cur_b, columns=columns, numerical=numerical, categorical=categorical)
        bounds = resolve_window(ref, reference_window)
        fn = memory_profile if engine == "memory" else sql_profile
        prefetch = _prefetch_current(ref, cur_b, features, current_window) if engine != "memory" else None
        token = ON_REFERENCE_CELLS.set(prefetch[1]) if prefetch else None
        try:
            ref_prof = fn(
                ref,
                features,
                side="reference",
                bounds=bounds,
                ts=reference_window.timestamp,
                source=reference_name,
                window=reference_window.describe(),
                progress=progress,
            )
        except BaseException:
            if prefetch:
                prefetch[0].close()
            raise
        finally:
            if token is not None:
                ON_REFERENCE_CELLS.reset(token)
        if prefetch:
            try:
                prefetch[0].wait()
                return _report_current(
                    ref_prof,
                    cur_b,
                    features,
                    engine,
                    current_window,
                    policy,
                    progress,
                    current_name,
                    isinstance(ref, Profile),
                )
            finally:
                prefetch[0].close()
    return _report_current(
        ref_prof, cur_b, features, engine, current_window, policy, progress, current_name, isinstance(ref, Profile)
    )


def _prefetch_current(ref: Backend, cur_b: Backend, features, current_window: Window):
    """DuckDB files on both sides: a :class:`~services.drift.prefetch.Prefetch` on the current's
    backend (its category counts start now, its cell counts once the reference's cell maps are
    final) and the hook that submits the latter; None when it does not apply."""
    if not (ref.dialect == cur_b.dialect == "duckdb" and ref.cursor is not None and cur_b.cursor is not None):
        return None
    try:
        cb = resolve_window(cur_b, current_window)
    except BadInput:
        return None  # reported by the current's own pass, after the reference's errors
    ts = current_window.timestamp
    numeric = [n for n, k in features if k == "numeric"]
    cats = [n for n, k in features if k == "categorical"]
    pf = Prefetch(cur_b).install()
    if cats:
        meta = [(n, is_float_type(cur_b.columns.get(n, ""))) for n in cats]
        pf.submit([categorical_query(cur_b.table, cur_b.dialect, meta, ts=ts, start=cb[0], end=cb[1])])

    def on_cells(cells: dict[str, CellSpec]) -> None:
        # the statements _numeric_pass builds for these columns (same grouping, same builders)
        specs = [NumericSpec(n, cells=cells[n]) if n in cells else NumericSpec(n, points=(0.0,)) for n in numeric]
        groups = _groups(specs, cur_b.parallelism) or [[]]
        queries = [
            cells_query(
                cur_b.table, [(k, s) for k, s in enumerate(g) if s.cells is not None], ts=ts, start=cb[0], end=cb[1]
            )
            for g in groups
            if any(s.cells is not None for s in g)
        ]
        if specs and all(s.cells is not None for s in specs):
            queries.append(
                numeric_query(
                    cur_b.table, cur_b.dialect, [], only_bins=False, ts=ts, start=cb[0], end=cb[1], group_by=None
                )
            )
        pf.submit(queries)

    return pf, on_cells


def _report_current(
    ref_prof: Profile,
    cur_b: Backend,
    features,
    engine: str,
    current_window: Window,
    policy: Policy,
    progress,
    current_name: str,
    ref_is_profile: bool,
) -> dict[str, Any]:
    bounds = resolve_window(cur_b, current_window)
    use_memory = engine == "memory" and ref_prof.exact and not ref_is_profile
    fn = memory_profile if use_memory else sql_profile
    cur_prof = fn(
        cur_b,
        features,
        side="current",
        bounds=bounds,
        ts=current_window.timestamp,
        reference=ref_prof,
        source=current_name,
        window=current_window.describe(),
        progress=progress,
    )
    report = compare(ref_prof, cur_prof, policy, order=[n for n, _ in features], progress=progress)
    report["engine"] = "memory" if use_memory else cur_b.engine
    return report


def frames_report(
    reference,
    current,
    *,
    engine: str = "memory",
    policy: Policy | None = None,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] = (),
    categorical: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The same report for two in-memory tables (pandas DataFrames or Arrow tables), read through
    DuckDB without copying — e.g. training data vs a serving sample (skew check)."""
    import duckdb

    from services.warehouse.duckdb import configure_duckdb, on_view

    con = duckdb.connect()
    configure_duckdb(con)
    try:
        backends = []
        for view, data in (("driftgate_ref", reference), ("driftgate_cur", current)):
            con.register(view, data)
            backends.append(on_view(con, view))
        return report_on_backends(
            backends[0],
            backends[1],
            columns=columns,
            numerical=numerical,
            categorical=categorical,
            engine=engine,
            policy=policy,
            progress=progress,
        )
    finally:
        con.close()


def _features_from_profile(prof: Profile, cur_b: Backend, columns, numerical, categorical) -> list[tuple[str, str]]:
    names = list(dict.fromkeys(list(columns or prof.features) + list(numerical) + list(categorical)))
    out = []
    for name in names:
        if name not in prof.features:
            raise BadInput(f"column {name!r} is missing from the reference profile")
        if name not in cur_b.columns:
            raise BadInput(f"column {name!r} is missing from the current data")
        kind = prof.features[name].kind
        if (name in numerical and kind != "numeric") or (name in categorical and kind != "categorical"):
            raise BadInput(f"column {name!r} was profiled as {kind}")
        if kind == "numeric" and not cur_b.is_numeric(name):
            raise BadInput(
                f"column {name!r} is numeric in the reference but {cur_b.columns[name].lower()} in the current data"
            )
        out.append((name, kind))
    return out
