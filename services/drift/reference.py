"""DuckDB reference profiles after their first pass: exact deciles, summaries, edge counts and the
CDF structure in two more passes, without a sort of any column (see :func:`duck_reference`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Unpack

import numpy as np

from services.drift import stats as S
from services.drift.cell_sql import (
    cell_values_query,
    cells_query,
    edge_counts_query,
    reference_quantiles_query,
    sample_query,
)
from services.drift.cells import (
    SAMPLE_PREFIX,
    CellSpec,
    cell_keys,
    cells_well_spread,
    choose_cells,
    decile_ranks,
    deciles_from_cells,
    summary_from_cells,
)
from services.drift.decode import Doc, Rows, floats_or_empty, histogram_cdf, split_cells
from services.drift.features import check_numeric
from services.drift.prefetch import ON_REFERENCE_CELLS
from services.drift.sql import NumericSpec, Query, Scope
from services.warehouse.sources import Backend


def column_groups(items: Sequence[Any], parts: int) -> list[list[Any]]:
    parts = max(1, min(parts, len(items)))
    size = -(-len(items) // parts) if items else 1
    return [list(items[k : k + size]) for k in range(0, len(items), size)]


def sample_queries(
    backend: Backend, names: Sequence[str], window: Scope, prefix: int | None
) -> tuple[list[list[str]], list[Query]]:
    """A DuckDB reference's row samples (one statement per column group, each scans on one thread)
    from the window's first ``prefix`` rows (None: from every row); read by :func:`read_grids`."""
    groups = column_groups(names, backend.parallelism) if names else []
    return groups, [sample_query(backend.table, g, prefix=prefix, **window) for g in groups]


def read_grids(groups: Sequence[Sequence[str]], results: Sequence[Rows], docs: dict[str, Doc]) -> None:
    """Each sampled column's quantile grid into ``docs[column]["grid"]``."""
    for g, (sample,) in zip(groups, results):
        for i, n in enumerate(g):
            col = np.asarray(sample[i] or [], dtype=float)
            docs.setdefault(n, {})["grid"] = S.quantile_grid(col) if col.size else []


def _choose(doc: Doc, rows: int) -> CellSpec | None:
    grid = doc["grid"]
    return choose_cells(grid, grid[0] if grid else math.nan, grid[-1] if grid else math.nan, rows)


def duck_reference(
    backend: Backend, numeric: Sequence[str], docs: dict[str, Doc], rows: int, *, side: str, **window: Unpack[Scope]
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

    A window of more than ``SAMPLE_PREFIX`` rows was sampled from its first rows only: its columns
    that get no map, and those whose cells turn out to hold too much mass
    (:func:`cells_well_spread`: data ordered by the column), are sampled again from every row
    and counted again, before pass 3.
    """
    cells = {n: _choose(docs[n], rows) for n in numeric}
    partial = rows > SAMPLE_PREFIX
    entry = {n: dict(docs[n]) for n in numeric} if partial else {}  # what pass 1 gave each column
    if partial:
        _resample(backend, [n for n in numeric if cells[n] is None], docs, rows, cells, window)
    cell_cdf: dict[str, list[int]] = {}
    with_cells, others, spread = _second_pass(backend, numeric, cells, docs, cell_cdf, side=side, window=window)
    poor = [s.name for s in with_cells if not spread[s.name]] if partial else []
    if poor:
        for n in poor:  # counted again from scratch: nothing of the first count stays in its doc
            docs[n] = dict(entry[n])
        _resample(backend, poor, docs, rows, cells, window)
        again, more, _ = _second_pass(backend, poor, cells, docs, cell_cdf, side=side, window=window)
        with_cells = [s for s in with_cells if s.name not in poor] + again
        others += more
    parts = backend.parallelism
    cell_groups = [g for g in column_groups(with_cells, parts) if g]
    hook = ON_REFERENCE_CELLS.get()
    if hook is not None:  # the cell maps are final: a current window may start counting on them
        hook({s.name: docs[s.name]["cells"] for g in cell_groups for s in g})
    # Pass 3: the values inside the deciles' cells; counts at the other columns' edges and points.
    ranks = {n: decile_ranks(int(docs[n]["count"] or 0), cdf) for n, cdf in cell_cdf.items()}
    edge_specs = [
        NumericSpec(
            s.name,
            edges=tuple(S.dedupe_edges(docs[s.name]["deciles"])),
            points=tuple(S.cdf_points(list(docs[s.name]["grid"]) + [docs[s.name]["min"], docs[s.name]["max"]])),
        )
        for s in others
    ]
    edge_groups = [g for g in column_groups(edge_specs, parts) if g]
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
            cell = int(cell_keys([key], g[int(k)].cell_map().n, tails=False)[0])
            found[int(k)].setdefault(cell, []).append(np.asarray(xs, dtype=float))
        for k, spec in enumerate(g):
            values = {}
            for cell, chunks in found[k].items():
                distinct, counts = np.unique(np.concatenate(chunks), return_counts=True)
                values[cell] = (distinct, np.cumsum(counts))
            deciles_from_cells(docs[spec.name], cell_cdf[spec.name], ranks[spec.name], values)
    for g in edge_groups:
        (row,) = next(results)
        pos = 0
        for spec in g:
            edges, points = spec.edges or (), spec.points or ()
            docs[spec.name]["cumulative"] = [int(x or 0) for x in row[pos : pos + len(edges)]]
            docs[spec.name].update(
                edges=list(edges), points=list(points), cdf=histogram_cdf(row[pos + len(edges)], points)
            )
            pos += len(edges) + 1
    for n in numeric:
        d = docs[n]
        d["median"] = float(d["deciles"][S.DECILES.index(0.5)]) if d["deciles"] else None


def _resample(
    backend: Backend,
    names: Sequence[str],
    docs: dict[str, Doc],
    rows: int,
    cells: dict[str, CellSpec | None],
    window: Scope,
) -> None:
    """Sample ``names`` again from every row of the window; their grids and cell maps follow."""
    if not names:
        return
    groups, queries = sample_queries(backend, names, window, prefix=None)
    read_grids(groups, backend.execute_many(queries), docs)
    for n in names:
        cells[n] = _choose(docs[n], rows)


def _second_pass(
    backend: Backend,
    numeric: Sequence[str],
    cells: dict[str, CellSpec | None],
    docs: dict[str, Doc],
    cell_cdf: dict[str, list[int]],
    *,
    side: str,
    window: Scope,
) -> tuple[list[NumericSpec], list[NumericSpec], dict[str, bool]]:
    """Pass 2 of ``numeric``: the cell columns' counts per cell (their summaries and CDF; whether
    their cells are well spread), the other columns' summaries and exact deciles."""
    with_cells = [NumericSpec(n, cells=c) for n in numeric if (c := cells[n]) is not None]
    others = [NumericSpec(n) for n in numeric if cells[n] is None]
    parts = backend.parallelism
    cell_groups = [g for g in column_groups(with_cells, parts) if g]
    other_groups = [g for g in column_groups(others, parts) if g]
    queries = [cells_query(backend.table, list(enumerate(g)), tails=False, **window) for g in cell_groups]
    queries += [reference_quantiles_query(backend.table, list(enumerate(g)), **window) for g in other_groups]
    results = iter(backend.execute_many(queries))
    spread: dict[str, bool] = {}
    for g in cell_groups:
        by_column = split_cells(next(results))
        for k, spec in enumerate(g):
            d = summary_from_cells(by_column.get(k), spec.cells, tails=False)
            check_numeric(spec.name, side, d["count"], d["infinite"])
            spread[spec.name] = cells_well_spread(by_column.get(k), spec.cell_map())
            cell_cdf[spec.name] = d["cdf"]
            exact = replace(spec.cell_map(), min=float(d["min"]), max=float(d["max"]))  # the sample's were estimates
            d.update(points=exact.points(), cells=exact, tails=[])
            docs[spec.name].update(d)
    for g in other_groups:
        (row,) = next(results)
        for k, spec in enumerate(g):
            cell_cdf.pop(spec.name, None)  # (counted again without cells)
            count, mean, std, lo, hi, deciles = row[6 * k : 6 * k + 6]
            infinite = int(lo == -math.inf) + int(hi == math.inf) if count else 0
            check_numeric(spec.name, side, int(count or 0), infinite)
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
    return with_cells, others, spread
