"""The numeric pass of every SQL engine: one statement per column group with the row count and,
per column, count, mean, std, min, max, median, infinities, the quantile grid, deciles and the
counts at given edges (DuckDB: the same with RESERVOIR_QUANTILE grids and HISTOGRAM points)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Unpack

from sqlglot import exp

from services.drift.cells import GRID_SAMPLE
from services.drift.sql import NumericSpec, Params, Query, Scope, _cached, hist_bounds, numeric_value
from services.drift.stats import DECILES, grid_probs
from services.warehouse.sql import DUCKDB, date_bucket, param, render, sql_dialect, window_condition, window_params


def numeric_query(
    table: exp.Table,
    dialect: str,
    specs: Sequence[NumericSpec],
    *,
    group_by: str | None = None,
    grid: Sequence[float] | None = None,
    only_bins: bool = False,
    **window: Unpack[Scope],
) -> Query:
    """:func:`build_numeric_query` with the rendered text cached by shape (parameters rebuilt)."""
    probs = tuple(float(p) for p in grid) if grid is not None else tuple(grid_probs())
    shape = tuple((s.name, len(s.edges or ()), bool(s.deciles), bool(s.points), bool(s.grid)) for s in specs)
    ts, start, end = window.get("ts"), window.get("start"), window.get("end")
    key = (
        "numeric",
        table.sql(dialect),
        dialect,
        shape,
        ts,
        start is not None,
        end is not None,
        group_by,
        probs,
        only_bins,
    )
    placeholder = [
        NumericSpec(name, edges=(0.0,) * n, deciles=d, points=(0.0,) if pts else None, grid=grid)
        for name, n, d, pts, grid in shape
    ]
    scope: Scope = {"ts": ts, "start": start, "end": end}
    sql = _cached(key, lambda: build_numeric_query(table, dialect, placeholder, scope, group_by, probs, only_bins))
    return sql, numeric_params(dialect, specs, start=start, end=end, grid=probs, only_bins=only_bins)


def numeric_params(
    dialect: str,
    specs: Sequence[NumericSpec],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    grid: Sequence[float] | None = None,
    only_bins: bool = False,
) -> dict[str, Any]:
    """The named parameters :func:`build_numeric_query` binds (kept in step by a test)."""
    params = window_params(start, end)
    lists = sql_dialect(dialect).list_aggregates
    sorted_path = lists and not only_bins
    for i, spec in enumerate(specs):
        if lists and spec.points:
            params[f"h{i}"] = hist_bounds(spec)
            if sorted_path:
                params[f"lo{i}"], params[f"hi{i}"] = float(spec.points[0]), float(spec.points[-1])
            continue
        if sorted_path and spec.grid:
            params["grid"] = [float(p) for p in (grid if grid is not None else grid_probs())]
        for j, edge in enumerate(spec.edges or ()):
            params[f"e{i}_{j}"] = float(edge)
    return params


def build_numeric_query(
    table: exp.Table,
    dialect: str,
    specs: Sequence[NumericSpec],
    scope: Scope,
    group_by: str | None = None,
    grid: Sequence[float] | None = None,
    only_bins: bool = False,
) -> Query:
    """One pass: row count, and per column: count, mean, std_pop, min, max, median, count of
    infinities, the discrete quantile grid, the deciles (if asked) and ``COUNT_IF(x <= edge)``
    for each given edge. Grouped by ``DATE_TRUNC(group_by, ts)`` when ``group_by`` is set."""
    ts, start, end = scope["ts"], scope["start"], scope["end"]
    params: dict[str, Any] = {}
    probs = list(grid) if grid is not None else grid_probs()
    # Inner projection: each column once as DOUBLE with NaN -> NULL, plus the window bucket.
    inner_cols: list[exp.Expr] = [exp.alias_(numeric_value(s.name), f"v{i}", quoted=True) for i, s in enumerate(specs)]
    if group_by:
        inner_cols.append(exp.alias_(date_bucket(ts, group_by), "w", quoted=True))
    if not inner_cols:
        inner_cols.append(exp.alias_(exp.Literal.number(1), "one", quoted=True))
    inner = exp.select(*inner_cols, copy=False).from_(table.copy(), copy=False)
    cond = window_condition(ts, start, end, params)
    if cond is not None:
        inner = inner.where(cond)
    sql = sql_dialect(dialect)
    if sql.list_aggregates and not only_bins:
        return _numeric_query_sorted(inner, specs, probs, params, group_by)
    inf = exp.cast(exp.Literal.string("Infinity"), "DOUBLE")
    select: list[exp.Expr] = []
    if group_by:
        select.append(exp.column("w", quoted=True))
    select.append(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True))
    for i, spec in enumerate(specs):
        v = exp.column(f"v{i}", quoted=True)
        fields: list[exp.Expr] = (
            []
            if only_bins
            else [
                exp.Count(this=v.copy()),
                exp.Avg(this=v.copy()),
                exp.StddevPop(this=v.copy()),
                exp.Min(this=v.copy()),
                exp.Max(this=v.copy()),
                sql.quantiles(v.copy(), [0.5], discrete=False),
                exp.CountIf(this=exp.EQ(this=exp.Abs(this=v.copy()), expression=inf.copy())),
                sql.quantiles(v.copy(), probs, discrete=True),
            ]
        )
        if spec.deciles and not only_bins:
            fields.append(sql.quantiles(v.copy(), DECILES, discrete=False))
        if only_bins and spec.points and sql.list_aggregates:  # one HISTOGRAM: points and edges
            params[f"h{i}"] = hist_bounds(spec)
            fields.append(exp.Anonymous(this="HISTOGRAM", expressions=[v.copy(), param(f"h{i}")]))
        else:
            for j, edge in enumerate(spec.edges or ()):
                key = f"e{i}_{j}"
                params[key] = float(edge)
                fields.append(exp.CountIf(this=exp.LTE(this=v.copy(), expression=param(key))))
        select.extend(exp.alias_(f, f"c{i}_{k}", quoted=True) for k, f in enumerate(fields))
    q = exp.select(*select, copy=False).from_(inner.subquery("src", copy=False), copy=False)
    if group_by:
        q = q.group_by(exp.column("w", quoted=True), copy=False).order_by(exp.column("w", quoted=True), copy=False)
    return sql.render(q), params


def _infinite(i: int) -> exp.Expr:
    """How many of min/max are infinite (> 0 iff the column holds an infinity): free, unlike a
    per-row COUNT_IF."""

    def is_inf(k: int, text: str) -> exp.Expr:
        return exp.cast(
            exp.EQ(this=exp.column(f"c{i}_{k}", quoted=True), expression=exp.cast(exp.Literal.string(text), "DOUBLE")),
            "INT",
        )

    return exp.Add(this=is_inf(3, "-Infinity"), expression=is_inf(4, "Infinity"))


def _summaries(v: exp.Column, i: int) -> list[exp.Expr]:
    """count, mean, population std, min and max of column ``v<i>`` as ``c<i>_0`` … ``c<i>_4``."""
    aggregates = [exp.Count, exp.Avg, exp.StddevPop, exp.Min, exp.Max]
    return [exp.alias_(agg(this=v.copy()), f"c{i}_{k}", quoted=True) for k, agg in enumerate(aggregates)]


def _numeric_query_sorted(
    inner: exp.Select, specs: Sequence[NumericSpec], probs: Sequence[float], params: Params, group_by: str | None
) -> Query:
    size = len(probs) - 1
    if [round(k / size, 12) for k in range(size + 1)] != [round(p, 12) for p in probs]:
        raise ValueError("the DuckDB grid needs probabilities k/G")
    mid: list[exp.Expr] = [exp.column("w", quoted=True)] if group_by else []
    mid.append(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True))
    out: list[exp.Expr] = [exp.column("w", quoted=True)] if group_by else []
    out.append(exp.column("rows", quoted=True))
    for i, spec in enumerate(specs):
        v = exp.column(f"v{i}", quoted=True)
        if spec.points:  # current window against a reference: counts at its points, no sort
            params[f"h{i}"] = hist_bounds(spec)
            params[f"lo{i}"], params[f"hi{i}"] = float(spec.points[0]), float(spec.points[-1])
            mid += [
                *_summaries(v, i),
                exp.alias_(
                    exp.Anonymous(this="QUANTILE_CONT", expressions=[v.copy(), exp.Literal.number(0.5)]),
                    f"c{i}_5",
                    quoted=True,
                ),
                exp.alias_(exp.null(), f"c{i}_7", quoted=True),
            ]
            hist_fields: list[exp.Expr] = [exp.column(f"c{i}_{k}", quoted=True) for k in range(6)]
            hist_fields += [_infinite(i), exp.column(f"c{i}_7", quoted=True)]
            mid += [
                exp.alias_(
                    exp.Anonymous(this="HISTOGRAM", expressions=[v.copy(), param(f"h{i}")]), f"c{i}_h", quoted=True
                ),
                # exact tails outside the reference's range: SUM(lo - x) over x < lo, SUM(x - hi) over x > hi
                exp.alias_(
                    exp.Filter(
                        this=exp.Sum(this=exp.Sub(this=param(f"lo{i}"), expression=v.copy())),
                        expression=exp.Where(this=exp.LT(this=v.copy(), expression=param(f"lo{i}"))),
                    ),
                    f"c{i}_lo",
                    quoted=True,
                ),
                exp.alias_(
                    exp.Filter(
                        this=exp.Sum(this=exp.Sub(this=v.copy(), expression=param(f"hi{i}"))),
                        expression=exp.Where(this=exp.GT(this=v.copy(), expression=param(f"hi{i}"))),
                    ),
                    f"c{i}_hi",
                    quoted=True,
                ),
            ]
            hist_fields += [
                exp.column(f"c{i}_h", quoted=True),
                exp.column(f"c{i}_lo", quoted=True),
                exp.column(f"c{i}_hi", quoted=True),
            ]
            out.extend(exp.alias_(f, f"o{i}_{k}", quoted=True) for k, f in enumerate(hist_fields))
            continue
        if spec.grid:
            params["grid"] = [float(p) for p in probs]
        mid += [
            *_summaries(v, i),
            exp.alias_(
                exp.Anonymous(
                    this="RESERVOIR_QUANTILE", expressions=[v.copy(), param("grid"), exp.Literal.number(GRID_SAMPLE)]
                )
                if spec.grid
                else exp.null(),
                f"c{i}_7",
                quoted=True,
            ),
        ]
        if spec.deciles:  # the deciles' 5th is the median (0.5): one QUANTILE_CONT for both
            mid.append(exp.alias_(DUCKDB.quantiles(v.copy(), DECILES, discrete=False), f"c{i}_d", quoted=True))
            median: exp.Expr = exp.Bracket(
                this=exp.column(f"c{i}_d", quoted=True), expressions=[exp.Literal.number(DECILES.index(0.5))]
            )  # 0-based here, DuckDB [5]
        else:
            mid.append(
                exp.alias_(
                    exp.Anonymous(this="QUANTILE_CONT", expressions=[v.copy(), exp.Literal.number(0.5)]),
                    f"c{i}_5",
                    quoted=True,
                )
            )
            median = exp.column(f"c{i}_5", quoted=True)
        fields: list[exp.Expr] = [exp.column(f"c{i}_{k}", quoted=True) for k in range(5)]
        fields += [median, _infinite(i), exp.column(f"c{i}_7", quoted=True)]
        if spec.deciles:
            fields.append(exp.column(f"c{i}_d", quoted=True))
        for j, edge in enumerate(spec.edges or ()):
            key = f"e{i}_{j}"
            params[key] = float(edge)
            mid.append(
                exp.alias_(exp.CountIf(this=exp.LTE(this=v.copy(), expression=param(key))), f"c{i}_e{j}", quoted=True)
            )
            fields.append(exp.column(f"c{i}_e{j}", quoted=True))
        out.extend(exp.alias_(f, f"o{i}_{k}", quoted=True) for k, f in enumerate(fields))
    agg = exp.select(*mid, copy=False).from_(inner.subquery("src", copy=False), copy=False)
    if group_by:
        agg = agg.group_by(exp.column("w", quoted=True), copy=False)
    q = exp.select(*out, copy=False).from_(agg.subquery("agg", copy=False), copy=False)
    if group_by:
        q = q.order_by(exp.column("w", quoted=True), copy=False)
    return render(q, "duckdb"), params
