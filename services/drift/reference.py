"""DuckDB reference profiles after their first pass: exact deciles, summaries, edge counts and the
CDF structure in two more passes, without a sort of any column (see :func:`duck_reference`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Unpack

import numpy as np

from services.drift import stats as S
from services.drift.cell_sql import cell_values_query, cells_query, edge_counts_query, reference_quantiles_query
from services.drift.cells import cell_keys, choose_cells, decile_ranks, deciles_from_cells, summary_from_cells
from services.drift.decode import Doc, floats_or_empty, histogram_cdf, split_cells
from services.drift.features import check_numeric
from services.drift.prefetch import ON_REFERENCE_CELLS
from services.drift.sql import NumericSpec, Scope
from services.warehouse.sources import Backend


def column_groups(items: Sequence[Any], parts: int) -> list[list[Any]]:
    parts = max(1, min(parts, len(items)))
    size = -(-len(items) // parts) if items else 1
    return [list(items[k : k + size]) for k in range(0, len(items), size)]


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
    cell_groups = [g for g in column_groups(with_cells, parts) if g]
    other_groups = [g for g in column_groups(others, parts) if g]
    queries = [cells_query(backend.table, list(enumerate(g)), tails=False, **window) for g in cell_groups]
    queries += [reference_quantiles_query(backend.table, list(enumerate(g)), **window) for g in other_groups]
    results = iter(backend.execute_many(queries))
    cell_cdf: dict[str, list[int]] = {}
    for g in cell_groups:
        by_column = split_cells(next(results))
        for k, spec in enumerate(g):
            d = summary_from_cells(by_column.get(k), spec.cells, tails=False)
            check_numeric(spec.name, side, d["count"], d["infinite"])
            cell_cdf[spec.name] = d["cdf"]
            exact = replace(spec.cells, min=float(d["min"]), max=float(d["max"]))  # the sample's were estimates
            d.update(points=exact.points(), cells=exact, tails=[])
            docs[spec.name].update(d)
    for g in other_groups:
        (row,) = next(results)
        for k, spec in enumerate(g):
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
