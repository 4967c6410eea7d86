"""Profiles computed in the engine (DuckDB files, Databricks SQL, Spark): only aggregates leave it.

DuckDB reference (three passes, no sort of any column): (1) summaries, category counts and a
reservoir sample of 8,192 rows whose quantile grid picks a monotone cell map per column; (2) counts
per cell; (3) only the values inside the cells that hold each decile's order statistics, from which
the exact deciles and the exact counts at them follow (:mod:`services.drift.reference`). A current
window is counted on the same cells (plus its exact median from the values around its cell), so the
CDFs of both sides are exact at every cell boundary and KS/Wasserstein are off by at most the mass
inside one cell (``"approximate": true``). Small columns and columns no map spreads well keep
QUANTILE_CONT deciles and a HISTOGRAM at the grid's points. Column groups run concurrently on
DuckDB cursors. Databricks: exact PERCENTILE deciles and PERCENTILE_DISC grids (KS within ~1/1000).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Unpack

import numpy as np

from services.drift import stats as S
from services.drift.cell_sql import cells_query, grouped_cells_query, range_values_query
from services.drift.cells import (
    SAMPLE_PREFIX,
    CellSpec,
    cells_cdf,
    lerp,
    order_ranks,
    rank_cells,
    summary_from_cells,
)
from services.drift.decode import Doc, Rows, decode_numeric, split_cells
from services.drift.features import check_categorical, check_numeric, is_float_type
from services.drift.numeric_sql import numeric_query
from services.drift.prefetch import Prefetch
from services.drift.profile import Bounds, FeatureProfile, Features, Profile, ProfileArgs, Progress
from services.drift.reference import column_groups, duck_reference, read_grids, sample_queries
from services.drift.sql import NumericSpec, Query, Scope, categorical_query
from services.errors import BadInput
from services.numbers import finite_or_none
from services.warehouse.sources import Backend, Window, resolve_window


def sql_profile(backend: Backend, features: Features, **args: Unpack[ProfileArgs]) -> Profile:
    """Profile one window in the engine: a reference in two passes (deciles, then bin counts; three
    on DuckDB, see :func:`~services.drift.reference.duck_reference`), a current window against the
    reference's edges and cells or points."""
    side, reference = args["side"], args.get("reference")
    windows = _scan(
        backend,
        features,
        side=side,
        bounds=args["bounds"],
        ts=args["ts"],
        reference=reference,
        progress=args.get("progress"),
    )
    if not windows or windows.get(None, {}).get("rows", 0) == 0:
        raise BadInput(f"the {side} window is empty (0 rows)")
    doc = windows[None]
    feats = _feature_profiles(doc, features, reference, side=side)
    return Profile(
        source=args.get("source", ""),
        rows=doc["rows"],
        engine=backend.engine,
        features=feats,
        window=args.get("window", "all rows"),
    )


def profiles_by_window(
    backend: Backend,
    features: Features,
    *,
    group_by: str,
    side: str = "current",
    bounds: Bounds,
    ts: str,
    reference: Profile,
    source: str = "",
    progress: Progress | None = None,
) -> list[tuple[Any, Profile]]:
    """One profile per window ("day"/"week"/"month" of ``ts``) against ``reference``, from the same
    grouped statements: ``[(window start, profile), ...]`` in window order (empty windows absent)."""
    windows = _scan(
        backend, features, side=side, bounds=bounds, ts=ts, reference=reference, group_by=group_by, progress=progress
    )
    return [
        (
            w,
            Profile(
                source=source,
                rows=doc["rows"],
                engine=backend.engine,
                features=_feature_profiles(doc, features, reference, side=None),
                window=str(w),
            ),
        )
        for w, doc in windows.items()
    ]


def _scan(
    backend: Backend,
    features: Features,
    *,
    side: str,
    bounds: Bounds,
    ts: str | None,
    reference: Profile | None,
    group_by: str | None = None,
    progress: Progress | None = None,
) -> dict[Any, dict[str, Any]]:
    """The statements of a profile: per window, ``{"rows", "numeric": {column: aggregates},
    "counts": {column: {category: n}}}``."""
    numeric = [n for n, k in features if k == "numeric"]
    cats = [n for n, k in features if k == "categorical"]
    duck = backend.list_aggregates
    # A DuckDB reference's first pass: the row count, category counts and a sample of rows only;
    # its summaries and exact deciles come from the later passes (see duck_reference).
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
    window: Scope = {"ts": ts, "start": bounds[0], "end": bounds[1]}
    windows: dict[Any, dict[str, Any]] = {}
    batch: list[Query] = []  # statements run in the same batch as the numeric pass: category counts, row sample
    if cats:
        meta = [(n, is_float_type(backend.columns.get(n, ""))) for n in cats]
        batch.append(categorical_query(backend.table, backend.dialect, meta, group_by=group_by, **window))
    sample_groups, samples = sample_queries(backend, numeric if duck_ref else [], window, prefix=SAMPLE_PREFIX)
    batch += samples
    passed, beside = _numeric_pass(backend, specs, window, group_by=group_by, alongside=batch)
    for w, rows, per in passed:
        windows[w] = {"rows": rows, "numeric": dict(zip(numeric, per)), "counts": {n: {} for n in cats}}
    if sample_groups and None in windows:
        read_grids(sample_groups, beside[len(beside) - len(sample_groups) :], windows[None]["numeric"])
    if cats:
        for row in beside[0]:
            w, (k, v, n) = (row[0], row[1:]) if group_by else (None, row)
            if w in windows:  # (the numeric query saw every window)
                windows[w]["counts"][cats[int(k)]][str(v)] = int(n)
    if reference is None and numeric and windows.get(None, {}).get("rows", 0):
        _reference_bins(backend, numeric, windows[None], side=side, duck=duck, window=window)
    return windows


def _reference_bins(
    backend: Backend, numeric: Sequence[str], doc: dict[str, Any], *, side: str, duck: bool, window: Scope
) -> None:
    """A reference: the bin counts at its own edges (and, on DuckDB, its deciles and CDF structure)."""
    if duck:
        duck_reference(backend, numeric, doc["numeric"], doc["rows"], side=side, **window)
        return
    for n in numeric:
        d = doc["numeric"][n]
        check_numeric(n, side, int(d["count"] or 0), int(d["infinite"] or 0))
    edge_specs = [NumericSpec(n, edges=tuple(S.dedupe_edges(doc["numeric"][n]["deciles"]))) for n in numeric]
    ((_, _, per),), _ = _numeric_pass(backend, edge_specs, window, only_bins=True)
    for spec, d in zip(edge_specs, per):
        doc["numeric"][spec.name]["edges"] = list(spec.edges or ())
        doc["numeric"][spec.name]["cumulative"] = d["cumulative"]


def _feature_profiles(
    doc: dict[str, Any], features: Sequence[tuple[str, str]], reference: Profile | None, *, side: str | None
) -> dict[str, FeatureProfile]:
    """A window's feature profiles from its aggregates; ``side`` set: each column checked (a
    per-window pass keeps empty columns)."""
    rows = doc["rows"]
    feats: dict[str, FeatureProfile] = {}
    for name, kind in features:
        ref_f = reference.features[name] if reference else None
        if kind == "categorical":
            counts = doc["counts"][name]
            count = int(sum(counts.values()))
            if side:
                check_categorical(name, side, count)
            summary = S.categorical_summary(counts, rows, ref_f.counts if ref_f else None)
            feats[name] = FeatureProfile(name, kind, rows, count, summary, counts=counts)
            continue
        d = doc["numeric"][name]
        count = int(d["count"] or 0)
        if side:
            check_numeric(name, side, count, int(d["infinite"] or 0))
        summary = {
            "count": count,
            "missing_share": (rows - count) / rows if rows else 0.0,
            **{k: finite_or_none(d[k]) for k in ("mean", "std", "min", "median", "max")},
        }
        counted = bool(d.get("cdf"))
        feats[name] = FeatureProfile(
            name,
            kind,
            rows,
            count,
            summary,
            edges=list(ref_f.edges) if ref_f else d["edges"],
            bins=S.counts_from_cumulative(d["cumulative"], count),
            grid=d["grid"],
            points=(list(ref_f.points) if ref_f else d.get("points", [])) if counted else [],
            cdf=d.get("cdf", []),
            tails=d.get("tails", []),
            cells=(ref_f.cells if ref_f else d.get("cells")) if counted else None,
        )
    return feats


Passed = tuple[Any, int, list[Doc]]  # a window's key, its rows and its columns' aggregates


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
    backend: Backend,
    specs: Sequence[NumericSpec],
    window: Scope,
    *,
    group_by: str | None = None,
    only_bins: bool = False,
    alongside: Sequence[Query] = (),
) -> tuple[list[Passed], list[Rows]]:
    """One scan's numeric aggregates as (window, rows, per-column dicts), in ``specs`` order. The
    same statement is built for every dialect; on DuckDB the columns are split into groups run
    concurrently (one statement per group, each reading only its columns). Columns with cells (a
    current window on DuckDB) are read by one cells statement per group instead, their summaries
    combined from the cells (see :func:`_cell_columns`). ``alongside``: more statements to run in
    the same batch; their rows come back second."""
    groups = column_groups(specs, backend.parallelism) or [[]]
    grouped = bool(group_by)
    by_cells = not grouped and not only_bins and backend.list_aggregates
    plain = [[s for s in g if not (by_cells and s.cells is not None)] for g in groups]
    cell_groups = [[(k, s) for k, s in enumerate(g) if s.cells is not None] for g in groups] if by_cells else []
    # groups whose columns all have cells need no statement, but one statement always counts the rows
    run = [i for i, g in enumerate(plain) if g] or [0]
    queries = [
        numeric_query(backend.table, backend.dialect, plain[i], only_bins=only_bins, group_by=group_by, **window)
        for i in run
    ]
    cell_queries = [cells_query(backend.table, cg, **window) for cg in cell_groups if cg]
    gcells = _grouped_cell_queries(backend, groups, window, group_by) if group_by and not only_bins else ([], [])
    extra = list(alongside)
    results = backend.execute_many(queries + cell_queries + gcells[0] + extra)
    beside = results[len(results) - len(extra) :]
    results = results[: len(results) - len(extra)]
    if gcells[0]:
        grouped_rows = results[len(results) - len(gcells[0]) :]
        results = results[: len(results) - len(gcells[0])]
    decoded: dict[Any, tuple[int, list[list[Doc]]]] = {}
    order: list[Any] = []
    for gi, result in zip(run, results):
        for row in result:
            w, rows, per = decode_numeric(
                row, plain[gi], grouped=grouped, only_bins=only_bins, sorted_lists=backend.list_aggregates
            )
            if w not in decoded:
                decoded[w] = (rows, [[] for _ in groups])
                order.append(w)
            decoded[w][1][gi] = per
    if gcells[0]:
        return _grouped_cells(groups, decoded, order, gcells[1], grouped_rows), beside
    if not any(cell_groups):
        return [(w, decoded[w][0], [d for per in decoded[w][1] for d in per]) for w in order], beside
    # ungrouped: one window
    rows, per_group = decoded[None]
    cell_results = iter(results[len(queries) :])
    cell_docs: list[tuple[NumericSpec, Doc]] = []
    merged: list[Doc] = []
    for g, cg, per in zip(groups, cell_groups, per_group):
        by_column = split_cells(next(cell_results)) if cg else {}
        plain_docs = iter(per)
        for k, spec in enumerate(g):
            if spec.cells is None:
                merged.append(next(plain_docs))
                continue
            d = summary_from_cells(by_column.get(k), spec.cells)
            cell_docs.append((spec, d))
            merged.append(d)
    _cell_columns(backend, cell_docs, window)
    return [(None, rows, merged)], beside


def _grouped_cell_queries(
    backend: Backend, groups: Sequence[Sequence[NumericSpec]], window: Scope, group_by: str
) -> tuple[list[Query], list[int]]:
    """DuckDB per-window passes: one grouped cells statement per column group with cells (run in
    the same batch as the grouped numeric statements), and the groups they belong to."""
    if not backend.list_aggregates:
        return [], []
    queries: list[Query] = []
    where: list[int] = []
    for gi, g in enumerate(groups):
        cg = [(k, s) for k, s in enumerate(g) if s.cells is not None]
        if cg:
            queries.append(
                grouped_cells_query(
                    backend.table, cg, ts=str(window["ts"]), group_by=group_by, start=window["start"], end=window["end"]
                )
            )
            where.append(gi)
    return queries, where


def _grouped_cells(
    groups: Sequence[Sequence[NumericSpec]],
    decoded: dict[Any, tuple[int, list[list[Doc]]]],
    order: Sequence[Any],
    where: Sequence[int],
    results: Sequence[Rows],
) -> list[Passed]:
    """Per-window passes of columns with cells: their summaries and edge counts came from the
    grouped numeric statement; their CDF at the reference's points and tails from the grouped
    cells statements (rows per window and cell, see :func:`grouped_cells_query`)."""
    per_cell: dict[tuple[int, int, Any], list[tuple[float, float, float]]] = {}
    for gi, found in zip(where, results):
        for k, w, key, n, total in found:
            per_cell.setdefault((gi, int(k), w), []).append((float(key), float(n), float(total or 0.0)))
    out: list[Passed] = []
    for w in order:
        rows, per_group = decoded[w]
        merged: list[Doc] = []
        for gi, (g, per) in enumerate(zip(groups, per_group)):
            for k, (spec, d) in enumerate(zip(g, per)):
                if spec.cells is not None:
                    table = np.array(per_cell.get((gi, k, w), []), dtype=float).reshape(-1, 3)
                    d["cdf"], d["tails"] = cells_cdf(table, spec.cells, tails=True)
                merged.append(d)
        out.append((w, rows, merged))
    return out


def _cell_columns(backend: Backend, columns: list[tuple[NumericSpec, Doc]], window: Scope) -> None:
    """For a current window's cell columns: the counts at the reference's edges and the exact
    median, in one more scan. The cells of the two middle order statistics are known from the cell
    counts, so the scan fetches only the values in those cells (widened by a cell each side) and
    counts the values below them; a median outside the reference's range is computed by
    QUANTILE_CONT instead."""
    if not columns:
        return
    specs: list[tuple[int, NumericSpec, float, float, tuple[int, int, Any] | None]] = []
    fallback: list[tuple[NumericSpec, Doc]] = []
    for k, (spec, d) in enumerate(columns):
        count, points = int(d["count"] or 0), spec.cell_map().points()
        lo, hi, ranks = math.inf, -math.inf, None
        if count:
            r0, r1, virtual = order_ranks(count, 0.5)
            (_, c0, _), (_, c1, _) = rank_cells(d["cdf"], [r0, r1])
            if c0 >= -1 and c1 <= spec.cell_map().n - 1 and c1 < len(d["cdf"]) - 2:
                lo, hi = float(points[max(c0, 0)]), float(points[min(c1 + 3, len(points) - 1)])
                ranks = (r0, r1, virtual)
            else:
                fallback.append((spec, d))
        specs.append((k, spec, lo, hi, ranks))
    queries = []
    for group in column_groups(specs, backend.parallelism):  # one statement per core: each branch scans on one thread
        sql, params = range_values_query(
            backend.table, [(k, spec.name, len(spec.edges or ())) for k, spec, *_ in group], **window
        )
        for k, spec, lo, hi, _ in group:
            params[f"a{k}"], params[f"b{k}"] = lo, hi
            for j, edge in enumerate(spec.edges or ()):
                params[f"e{k}_{j}"] = float(edge)
        queries.append((sql, params))
    found = {int(row[0]): row[1:] for result in backend.execute_many(queries) for row in result}
    for k, spec, _, _, ranks in specs:
        d = columns[k][1]
        below, values, at_edges = found[k]
        d["cumulative"] = [int(x or 0) for x in (at_edges or [])]
        if ranks is None:
            continue
        r0, r1, virtual = ranks
        inside = np.sort(np.asarray(values or [], dtype=float))
        i0, i1 = r0 - int(below or 0), r1 - int(below or 0)
        if not (0 <= i0 <= i1 < inside.size):  # pragma: no cover - the widened range missed it
            fallback.append((spec, d))
            continue
        d["median"] = lerp(inside[i0], inside[i1], virtual)
    for spec, d in fallback:
        only = [NumericSpec(spec.name, grid=False)]
        sql, params = numeric_query(backend.table, "duckdb", only, **window)
        (row,) = backend.execute(sql, params)
        d["median"] = decode_numeric(row, only, grouped=False, sorted_lists=True)[2][0]["median"]


def prefetch_current(
    ref: Backend, cur_b: Backend, features: Features, current_window: Window
) -> tuple[Prefetch, Callable[[dict[str, CellSpec]], None]] | None:
    """DuckDB files on both sides: a :class:`~services.drift.prefetch.Prefetch` on the current's
    backend (its category counts start now, its cell counts once the reference's cell maps are
    final) and the hook that submits the latter; None when it does not apply."""
    if not (ref.list_aggregates and cur_b.list_aggregates and ref.cursor is not None and cur_b.cursor is not None):
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
        groups = column_groups(specs, cur_b.parallelism) or [[]]
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
