"""Profiling the days to store, on DuckDB: every day of a range in ONE grouped pass.

Per numeric column one branch of a UNION ALL statement groups the rows by ``(day, cell, edge
flag)`` — the cell of the reference's cell map (:class:`services.drift.sql.CellSpec`, tails beyond
the reference's range included) and how many of the reference's bin edges that share the row's
cell lie below the value — and returns ``count, sum, min, max, var_pop`` per group. From those:

* the CDF at the reference's points and the tails (:func:`services.drift.sql.cells_cdf`, the same
  function the full re-scan uses, so the counts are identical);
* the counts at the reference's bin edges: a group below an edge's cell is entirely ``<=`` it, one
  above entirely ``>``, and inside the edge's own cell the flag says (the edge's cell is computed by
  DuckDB with the same expression as the values', so the split is exact);
* count, mean, population std (Chan et al.'s combination), min, max — exact up to float rounding;
* the median, interpolated inside the CDF cell that holds it: off by at most that cell's width
  (:func:`services.drift.window_store.merging.median_error`), where the full re-scan computes it
  exactly.

Category counts per day come from the engine's grouped category statement, run beside it. A
range of days is read once, whatever the number of days (not one scan per day); the days' rows
are selected by a time condition DuckDB pushes into the Parquet scan (row groups and files
outside the range are skipped on their statistics).

Watermarks (:func:`watermarks`): rows and ``max(event_time)`` per day. For a Parquet source they come
from the files' footers (row-group row counts and min/max statistics, no data read) when every row
group lies within one day; otherwise from a grouped query reading the timestamp column only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sqlglot import exp

from services.drift import stats as S
from services.drift.cell_sql import _cell_expression, _cell_params
from services.drift.cells import CellSpec, cell_keys
from services.drift.cells import summary_from_cells as _summary_from_cells
from services.drift.features import is_float_type
from services.drift.profile import FeatureProfile, Profile
from services.drift.sql import _union_all, categorical_query, numeric_value
from services.drift.window_store.merging import median_from_cdf
from services.numbers import finite_or_none
from services.warehouse.sources import Backend, Source, as_date
from services.warehouse.sql import column, date_bucket, render, window_condition, window_params

Bounds = tuple[datetime | None, datetime | None]
Marks = dict[date, tuple[int, str | None]]
Files = dict[date, set[str]]  # the Parquet files holding rows of each day (from their footers)


def can_profile(backend: Backend, ref: Profile, features: Sequence[tuple[str, str]]) -> bool:
    """The one-pass profiler needs an in-process engine with HISTOGRAM / LIST (DuckDB: it fetches
    numpy columns on its connections) and a reference whose numeric columns have cell maps."""
    return (
        backend.in_process
        and backend.list_aggregates
        and all(ref.features[n].cells is not None for n, k in features if k == "numeric")
    )


def _edge_cells(backend: Backend, specs: Sequence[tuple[int, CellSpec, list[float]]]) -> dict[int, list[int]]:
    """Each edge's cell per column ``k``, computed by DuckDB with the values' own expression."""
    branches: list[exp.Select] = []
    params: dict[str, Any] = {}
    for k, cells, edges in specs:
        if not edges:
            continue
        v = exp.column("v", quoted=True)
        inner = exp.select(exp.alias_(exp.Unnest(expressions=[exp.Placeholder(this=f"e{k}")]), "v", quoted=True))
        branches.append(
            exp.select(
                exp.alias_(exp.Literal.number(k), "k", quoted=True),
                v.copy(),
                exp.alias_(_cell_expression(v, k, cells, tails=True), "c", quoted=True),
            ).from_(inner.subquery("g"))
        )
        params.update(_cell_params(k, cells), **{f"cm{k}": cells.min, f"cx{k}": cells.max, f"e{k}": edges})
    if not branches:
        return {}
    found: dict[tuple[int, float], float] = {
        (int(k), float(v)): float(c) for k, v, c in backend.execute(render(_union_all(branches), "duckdb"), params)
    }
    out = {}
    for k, cells, edges in specs:
        keys = [found[(k, float(e))] for e in edges]
        out[k] = [int(min(max(c, -1.0), float(cells.n))) for c in keys]
    return out


def _luts(cells: CellSpec, edges: list[float], at: list[int]) -> list[list[float]]:
    """Lookup lists over the cells -1..n: slot ``s`` holds the ``s``-th smallest edge of each cell
    (+inf where a cell has fewer edges)."""
    per: dict[int, list[float]] = {}
    for e, c in zip(edges, at):
        per.setdefault(c, []).append(e)
    slots = max((len(v) for v in per.values()), default=0)
    luts = [[math.inf] * (cells.n + 2) for _ in range(slots)]
    for c, es in per.items():
        for s, e in enumerate(sorted(es)):
            luts[s][c + 1] = e
    return luts


def _numeric_statement(
    table: exp.Table,
    specs: Sequence[tuple[int, str, CellSpec]],
    luts: dict[int, list[list[float]]],
    ts: str,
    bounds: Bounds,
) -> tuple[str, dict[str, Any]]:
    """Rows ``(k, w, key, b, n, sum, min, max, var_pop)`` per column ``k``, day ``w``, cell key and
    edge flag; and the statement of the rows per day ``(w, n)``."""
    params: dict[str, Any] = window_params(bounds[0], bounds[1])
    w = exp.column("w", quoted=True)

    def source(*cols: exp.Expr) -> exp.Select:
        q = exp.select(exp.alias_(date_bucket(ts, "day"), "w", quoted=True), *cols).from_(table.copy())
        cond = window_condition(ts, bounds[0], bounds[1], {})
        return q.where(cond) if cond is not None else q

    null = exp.null()
    branches: list[exp.Select] = []
    for k, name, cells in specs:
        v, c = exp.column("v", quoted=True), exp.column("c", quoted=True)
        vals = source(exp.alias_(numeric_value(name), "v", quoted=True)).subquery("a")
        keyed = (
            exp.select(
                w.copy(), v.copy(), exp.alias_(_cell_expression(v.copy(), k, cells, tails=True), "c", quoted=True)
            )
            .from_(vals)
            .where(exp.Not(this=exp.Is(this=v.copy(), expression=null.copy())))
        )
        index = exp.Add(
            this=exp.cast(
                exp.Anonymous(
                    this="LEAST",
                    expressions=[
                        exp.Anonymous(this="GREATEST", expressions=[c.copy(), exp.Literal.number(-1)]),
                        exp.Literal.number(cells.n),
                    ],
                ),
                "INTEGER",
            ),
            expression=exp.Literal.number(2),
        )
        flags: list[exp.Expression] = []
        for s, lut in enumerate(luts.get(k, [])):
            params[f"l{k}_{s}"] = lut
            look = exp.Anonymous(this="LIST_EXTRACT", expressions=[exp.Placeholder(this=f"l{k}_{s}"), index.copy()])
            flags.append(exp.cast(exp.GT(this=v.copy(), expression=look), "INTEGER"))
        flag: exp.Expression = exp.Literal.number(0)
        for f in flags:
            flag = f if isinstance(flag, exp.Literal) else exp.Add(this=flag, expression=f)
        flagged = exp.select(w.copy(), v.copy(), c.copy(), exp.alias_(flag, "b", quoted=True)).from_(
            keyed.subquery("kc")
        )
        branches.append(
            exp.select(
                exp.alias_(exp.Literal.number(k), "k", quoted=True),
                w.copy(),
                c.copy(),
                exp.alias_(exp.cast(exp.column("b", quoted=True), "DOUBLE"), "b", quoted=True),
                exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
                exp.alias_(exp.Sum(this=v.copy()), "s", quoted=True),
                exp.alias_(exp.Min(this=v.copy()), "lo", quoted=True),
                exp.alias_(exp.Max(this=v.copy()), "hi", quoted=True),
                exp.alias_(exp.Anonymous(this="VAR_POP", expressions=[v.copy()]), "var", quoted=True),
            )
            .from_(flagged.subquery("f"))
            .group_by(w.copy(), c.copy(), exp.column("b", quoted=True))
        )
        params.update(_cell_params(k, cells), **{f"cm{k}": cells.min, f"cx{k}": cells.max})
    return render(_union_all(branches), "duckdb"), params


def _rows_statement(table: exp.Table, ts: str, bounds: Bounds) -> tuple[str, dict[str, Any]]:
    """``(w, rows)`` per day inside ``bounds``."""
    params = window_params(bounds[0], bounds[1])
    bucket = date_bucket(ts, "day")
    q = exp.select(exp.alias_(bucket, "w", quoted=True), exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True))
    q = q.from_(table.copy())
    cond = window_condition(ts, bounds[0], bounds[1], {})
    return render((q.where(cond) if cond is not None else q).group_by(bucket.copy()), "duckdb"), params


def _run(backend: Backend, queries: list[tuple[str, dict[str, Any]]], arrays: set[int]) -> list[Any]:
    """The statements concurrently on DuckDB cursors (one after another without); those in
    ``arrays`` fetched as numpy columns (a row per cell and day: millions of tuples otherwise)."""

    def one(i: int) -> Any:
        con = backend.cursor() if backend.cursor is not None else backend.conn
        try:
            res = con.execute(*queries[i])
            return res.fetchnumpy() if i in arrays else res.fetchall()
        finally:
            if backend.cursor is not None:
                con.close()

    if backend.cursor is None:
        return [one(i) for i in range(len(queries))]
    with ThreadPoolExecutor(max_workers=len(queries)) as pool:
        return list(pool.map(one, range(len(queries))))


def _numeric_feature(
    name: str, ref_f: FeatureProfile, rows: int, table: np.ndarray, at: list[int], slot: list[int]
) -> FeatureProfile:
    """One column's day profile from its groups ``(key, b, n, sum, min, max, var_pop)``."""
    cells = ref_f.cells
    assert cells is not None  # can_profile checked it
    d = _summary_from_cells(table[:, [0, 2, 3, 4, 5, 6]] if table.size else None, cells, tails=True)
    count = int(d["count"])
    if table.size:
        cell, b, n = cell_keys(table[:, 0], cells.n, True), table[:, 1], table[:, 2]
        cumulative = [int(n[(cell < c) | ((cell == c) & (b <= p))].sum()) for c, p in zip(at, slot)]
    else:
        cumulative = [0] * len(at)
    median, _ = median_from_cdf(ref_f.points, d["cdf"], count)
    summary: dict[str, Any] = {"count": count, "missing_share": (rows - count) / rows if rows else 0.0}
    summary.update((key, finite_or_none(d[key])) for key in ("mean", "std", "min"))
    summary["median"] = finite_or_none(median) if count else None
    summary["max"] = finite_or_none(d["max"])
    return FeatureProfile(
        name,
        "numeric",
        rows,
        count,
        summary,
        edges=list(ref_f.edges),
        bins=S.counts_from_cumulative(cumulative, count),
        grid=[],
        points=list(ref_f.points),
        cdf=d["cdf"],
        tails=d["tails"],
        cells=cells,
    )


_EMPTY = np.empty((0, 7))


def _split(cols: dict[str, Any]) -> dict[tuple[int, date | None], np.ndarray]:
    """The numeric statement's columns as one ``(key, b, n, sum, min, max, var_pop)`` table per
    column and day."""
    k = np.asarray(cols["k"], dtype=np.int64)
    if not k.size:
        return {}
    days = np.asarray(cols["w"]).astype("datetime64[D]")
    table = np.column_stack([np.asarray(cols[c], dtype=float) for c in ("c", "b", "n", "s", "lo", "hi", "var")])
    order = np.lexsort((days, k))
    k, days, table = k[order], days[order], table[order]
    cut = np.flatnonzero((k[1:] != k[:-1]) | (days[1:] != days[:-1])) + 1
    out = {}
    for lo, hi in zip(np.concatenate([[0], cut]), np.concatenate([cut, [k.size]])):
        out[(int(k[lo]), as_date(days[lo].item()))] = table[lo:hi]
    return out


def day_profiles(
    backend: Backend,
    features: Sequence[tuple[str, str]],
    ref: Profile,
    ts: str,
    bounds: Bounds,
    source: str,
    files: list[str] | None = None,
) -> list[tuple[Any, Profile]]:
    """One profile per day with rows inside ``bounds`` (``(day, profile)``, as the engine's grouped
    ``sql_profile``), from one statement each for the rows, numeric cells and categories, run
    concurrently. ``files``: read only these Parquet files (every file with rows in ``bounds``,
    from :func:`watermarks`) instead of the whole source."""
    numeric = [(k, n, ref.features[n]) for k, (n, kind) in enumerate(features) if kind == "numeric"]
    cats = [n for n, kind in features if kind == "categorical"]
    specs = [(k, f.cells, list(f.edges)) for k, _, f in numeric if f.cells is not None]
    at = _edge_cells(backend, specs)
    luts = {k: _luts(cells, edges, at[k]) for k, cells, edges in specs if edges}
    table = backend.table
    if files is not None:
        table = exp.Table(this=exp.Anonymous(this="read_parquet", expressions=[exp.Placeholder(this="files")]))
    queries = [
        _rows_statement(table, ts, bounds),
        _numeric_statement(table, [(k, n, f.cells) for k, n, f in numeric if f.cells], luts, ts, bounds),
    ]
    if cats:
        meta = [(n, is_float_type(backend.columns.get(n, ""))) for n in cats]
        queries.append(
            categorical_query(table, backend.dialect, meta, ts=ts, start=bounds[0], end=bounds[1], group_by="day")
        )
    if files is not None:
        for _, params in queries:
            params["files"] = sorted(files)
    results = _run(backend, queries if numeric else [queries[0], *queries[2:]], {1} if numeric else set())
    rows_of = {w: int(n) for w, n in results[0] if w is not None}
    groups = _split(results[1]) if numeric else {}
    counts: dict[Any, dict[str, dict[str, int]]] = {}
    for w, k, v, n in results[-1] if cats else []:
        if w is not None:
            counts.setdefault(as_date(w), {}).setdefault(cats[int(k)], {})[str(v)] = int(n)
    slots = {}
    for k, _, f in numeric:
        edges_at = at.get(k, [])
        slots[k] = [
            sorted(e for e, c in zip(f.edges, edges_at) if c == cj).index(ej) for ej, cj in zip(f.edges, edges_at)
        ]
    out = []
    for w in sorted(rows_of):
        rows = rows_of[w]
        feats: dict[str, FeatureProfile] = {}
        for k, (name, kind) in enumerate(features):
            ref_f = ref.features[name]
            if kind == "numeric":
                cells = groups.get((k, as_date(w)), _EMPTY)
                feats[name] = _numeric_feature(name, ref_f, rows, cells, at.get(k, []), slots[k])
            else:
                cc = counts.get(as_date(w), {}).get(name, {})
                feats[name] = FeatureProfile(
                    name, kind, rows, int(sum(cc.values())), S.categorical_summary(cc, rows, ref_f.counts), counts=cc
                )
        out.append((w, Profile(source=source, rows=rows, engine=backend.engine, features=feats, window=str(w))))
    return out


# -- watermarks ----------------------------------------------------------------------------------
def _footer_marks(backend: Backend, src: Source, ts: str, bounds: Bounds) -> tuple[Marks, Files] | None:
    """Watermarks from the Parquet footers, or None when some row group spans two days, lacks
    statistics or crosses ``bounds`` (then only a query can tell)."""
    typ = backend.columns.get(ts, "")
    if src.type != "parquet" or not src.path or not typ.startswith("TIMESTAMP") or "ZONE" in typ:
        return None
    target = str(Path(src.path) / "*.parquet") if Path(src.path).is_dir() else src.path
    t = exp.DataType.build(typ, dialect="duckdb")
    lo, hi = (exp.cast(exp.column(x, quoted=False), t.copy()) for x in ("stats_min_value", "stats_max_value"))
    q = exp.select(
        exp.cast(lo.copy(), "DATE"),
        exp.cast(hi.copy(), "DATE"),
        lo.copy(),
        hi.copy(),
        exp.cast(hi.copy(), "VARCHAR"),
        exp.column("row_group_num_rows"),
        exp.column("stats_null_count"),
        exp.column("file_name"),
    ).from_(exp.Anonymous(this="parquet_metadata", expressions=[exp.Placeholder(this="files")]))
    q = q.where(exp.EQ(this=exp.column("path_in_schema"), expression=exp.Placeholder(this="ts")))
    marks: Marks = {}
    files: Files = {}
    for d0, d1, first, last, text, rows, nulls, name in backend.execute(
        render(q, "duckdb"), {"files": target, "ts": ts}
    ):
        if not rows or (nulls is not None and rows == nulls):
            continue  # an empty row group, or one without timestamps
        if d0 is None or d0 != d1 or nulls is None:
            return None
        if (bounds[0] is not None and last < bounds[0]) or (bounds[1] is not None and first >= bounds[1]):
            continue
        if (bounds[0] is not None and first < bounds[0]) or (bounds[1] is not None and last >= bounds[1]):
            return None  # partly inside the window: its rows must be counted
        n, m = marks.get(d0, (0, None))
        marks[d0] = (n + int(rows) - int(nulls), text if m is None or text > m else m)
        files.setdefault(d0, set()).add(str(name))
    return marks, files


def watermarks(backend: Backend, src: Source, ts: str, bounds: Bounds) -> tuple[Marks, Files | None]:
    """Rows and ``max(ts)`` per UTC day inside ``bounds``, and which Parquet files hold each day:
    from the Parquet footers when they tell, else from a grouped query over the timestamp column
    only (files unknown)."""
    try:
        footers = _footer_marks(backend, src, ts, bounds)
    except duckdb.Error:  # a footer DuckDB cannot read as expected: the query tells
        footers = None
    if footers is not None:
        return footers
    params: dict[str, Any] = {}
    q = exp.select(
        exp.alias_(date_bucket(ts, "day"), "w", quoted=True),
        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        exp.alias_(exp.cast(exp.Max(this=column(ts)), "VARCHAR"), "m", quoted=True),
    ).from_(backend.table.copy())
    present = exp.Not(this=exp.Is(this=column(ts), expression=exp.null()))
    cond = window_condition(ts, bounds[0], bounds[1], params)
    q = q.where(exp.and_(cond, present) if cond is not None else present).group_by(date_bucket(ts, "day"))
    out: Marks = {}
    for w, n, m in backend.execute(backend.render(q), params):
        d = as_date(w)
        if d is not None:
            out[d] = (int(n), None if m is None else str(m))
    return out, None
