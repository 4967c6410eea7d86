"""One query-construction path for every SQL engine (DuckDB locally, Databricks SQL warehouses).

Why hand-built sqlglot expressions rather than Ibis: the drift profile is a handful of
aggregate queries whose exact shape matters (one pass per side, decile edges that must match
``numpy.quantile``'s linear interpolation, discrete-quantile grids, cumulative bin counts as
``COUNT_IF`` filters, NaN-as-missing), and the two engines spell the quantile aggregates
differently (DuckDB ``QUANTILE_CONT(x, [..])`` vs Databricks ``PERCENTILE(x, ARRAY(..))`` and
``PERCENTILE_DISC(ARRAY(..)) WITHIN GROUP (ORDER BY x)``). sqlglot is already a dependency, builds
the statement as a syntax tree (so an identifier is always a quoted ``Identifier`` node and a value
is always a named ``Placeholder`` — no string pasting of user input anywhere), renders it per
dialect, and re-parses the result as a validity check. Ibis would add a large dependency and
still hide which quantile algorithm runs on each backend.

Every builder returns ``(sql, params)``; params are named (``$name`` in DuckDB, ``:name`` for
databricks-sql-connector's native parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from sqlglot import exp

from services.drift.cells import CellSpec
from services.errors import BadInput
from services.warehouse.sql import column, date_bucket, render, window_condition, window_params


def _lit(x: float) -> exp.Expr:
    return exp.Literal.number(repr(float(x)))


# -- expressions ---------------------------------------------------------------------------------
def numeric_value(name: str) -> exp.Expr:
    """The column as DOUBLE with NaN turned into NULL (missing)."""
    c = exp.cast(column(name), "DOUBLE")
    return exp.Case(ifs=[exp.If(this=exp.IsNan(this=c.copy()), true=exp.null())], default=c)


Params = dict[str, Any]
Query = tuple[str, Params]  # a statement and its named parameters


@dataclass(frozen=True)
class NumericSpec:
    name: str
    edges: tuple[float, ...] | None = None  # reference edges -> cumulative counts at them
    deciles: bool = False  # compute the decile edges (reference side)
    points: tuple[float, ...] | None = None  # DuckDB: counts at these points (HISTOGRAM) instead of a grid
    cells: CellSpec | None = None  # DuckDB: counts per cell (see CellSpec), edges by COUNT_IF
    grid: bool = True  # sampled quantile grid in SQL (a DuckDB reference samples rows instead)

    def cell_map(self) -> CellSpec:
        """The cell map of a column on the cell path."""
        if self.cells is None:  # pragma: no cover - a caller bug
            raise ValueError(f"column {self.name!r} has no cell map")
        return self.cells


class Scope(TypedDict):
    """Which rows of a table a statement reads: ``ts`` in [start, end) (None: unbounded)."""

    ts: str | None
    start: datetime | None
    end: datetime | None


# Rendered statements by shape: the SQL text depends only on the table, dialect, column names,
# the number of edges, which aggregates are asked and the window's shape — every value travels as
# a named parameter — so a statement is built (sqlglot) once and reused for every window/profile.
_SQL_CACHE: dict[tuple[Any, ...], str] = {}
_SQL_CACHE_MAX = 512


def _cached(key: tuple[Any, ...], build: Callable[[], Query]) -> str:
    sql = _SQL_CACHE.get(key)
    if sql is None:
        sql = build()[0]
        if len(_SQL_CACHE) >= _SQL_CACHE_MAX:
            _SQL_CACHE.clear()
        _SQL_CACHE[key] = sql
    return sql


def hist_bounds(spec: NumericSpec) -> list[float]:
    """DuckDB HISTOGRAM boundaries: the CDF points and the bin edges, one sorted list."""
    return sorted({float(p) for p in spec.points or ()} | {float(e) for e in spec.edges or ()})


def _union_all(branches: Sequence[exp.Expression]) -> exp.Expression:
    union = branches[0]
    for b in branches[1:]:
        union = exp.Union(this=union, expression=b, distinct=False)
    return union


def _values_source(
    table: exp.Table, names: Sequence[tuple[int, str]], ts: str | None, start: datetime | None, end: datetime | None
) -> exp.Subquery:
    """``(SELECT <column k as DOUBLE, NaN as NULL> AS v<k>, … FROM table WHERE <window>) AS src``."""
    inner = exp.select(*[exp.alias_(numeric_value(name), f"v{k}", quoted=True) for k, name in names], copy=False).from_(
        table.copy(), copy=False
    )
    cond = window_condition(ts, start, end, {})
    if cond is not None:
        inner = inner.where(cond, copy=False)
    return inner.subquery("src", copy=False)


def categorical_query(
    table: exp.Table,
    dialect: str,
    columns: Sequence[tuple[str, bool]],
    *,
    group_by: str | None = None,
    **window: Unpack[Scope],
) -> Query:
    """:func:`build_categorical_query`, rendered once per shape (only window bounds are parameters)."""
    cols = tuple((str(n), bool(f)) for n, f in columns)
    scope: Scope = {"ts": window.get("ts"), "start": window.get("start"), "end": window.get("end")}
    bounded = (scope["start"] is not None, scope["end"] is not None)
    key = ("categorical", table.sql(dialect), dialect, cols, scope["ts"], *bounded, group_by)
    sql = _cached(key, lambda: build_categorical_query(table, dialect, cols, scope, group_by))
    return sql, window_params(scope["start"], scope["end"])


def build_categorical_query(
    table: exp.Table, dialect: str, columns: Sequence[tuple[str, bool]], scope: Scope, group_by: str | None = None
) -> Query:
    """Category counts of every column, one UNION ALL statement: rows (w?, k, v, n), where k is
    the column's position. ``columns`` = (name, is_float); NaN in a float column is missing."""
    ts, start, end = scope["ts"], scope["start"], scope["end"]
    params: dict[str, Any] = {}
    branches: list[exp.Select] = []
    for i, (name, is_float) in enumerate(columns):
        raw = column(name)
        value = exp.cast(raw.copy(), "VARCHAR")
        select: list[exp.Expr] = []
        if group_by:
            select.append(exp.alias_(date_bucket(ts, group_by), "w", quoted=True))
        select += [
            exp.alias_(exp.Literal.number(i), "k", quoted=True),
            exp.alias_(value, "v", quoted=True),
            exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        ]
        cond: exp.Expr = exp.Not(this=exp.Is(this=raw.copy(), expression=exp.null()))
        if is_float:
            cond = exp.and_(cond, exp.Not(this=exp.IsNan(this=exp.cast(raw.copy(), "DOUBLE"))))
        wc = window_condition(ts, start, end, params)
        if wc is not None:
            cond = exp.and_(cond, wc)
        q = exp.select(*select).from_(table.copy()).where(cond)
        # group by the expressions (Databricks does not accept output aliases of casts everywhere)
        q = q.group_by(*([date_bucket(ts, group_by)] if group_by else []), value.copy())
        branches.append(q)
    if not branches:
        raise BadInput("no categorical columns to count")
    return render(_union_all(branches), dialect), params
