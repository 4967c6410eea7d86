"""The SQL vocabulary every engine shares: quoted identifiers, table names, named parameters,
window conditions, and rendering a sqlglot tree in one engine's dialect.

Statements are built as sqlglot syntax trees, so an identifier is always a quoted ``Identifier``
node and a value is always a named ``Placeholder`` — no string pasting of user input anywhere.
A tree is rendered per dialect (``$name`` parameters in DuckDB, ``:name`` for Databricks SQL and
Spark) and, outside DuckDB (which parses it itself a moment later, in-process), re-parsed as a
validity check.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp

from services.errors import BadInput

WINDOW_UNITS = ("day", "week", "month")
_TABLE_PART = re.compile(r"^[\w\-]+$", re.UNICODE)


# -- identifiers and values -----------------------------------------------------------------------
def quote(name: str) -> exp.Identifier:
    """A column name as a quoted identifier node (quotes inside are escaped by the renderer)."""
    if not isinstance(name, str) or not name or len(name) > 255 or "\x00" in name:
        raise BadInput(f"invalid column name: {str(name)[:40]!r}")
    return exp.to_identifier(name, quoted=True)


def column(name: str) -> exp.Column:
    return exp.Column(this=quote(name))


def table_expression(name: str) -> exp.Table:
    """``table`` / ``schema.table`` / ``catalog.schema.table``, each part a plain identifier."""
    parts = str(name or "").split(".")
    if not 1 <= len(parts) <= 3 or not all(_TABLE_PART.match(p) for p in parts):
        raise BadInput(f"invalid table name {str(name)[:80]!r} (expected catalog.schema.table)")
    ids = [exp.to_identifier(p, quoted=True) for p in parts]
    kwargs: dict[str, exp.Identifier] = {"this": ids[-1]}
    if len(ids) >= 2:
        kwargs["db"] = ids[-2]
    if len(ids) == 3:
        kwargs["catalog"] = ids[0]
    return exp.Table(**kwargs)


def param(name: str) -> exp.Placeholder:
    """A named parameter (its value travels beside the statement, never inside it)."""
    return exp.Placeholder(this=name)


# -- dialects ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SqlDialect:
    """How one family of engines spells SQL: the sqlglot dialect, whether a rendered statement is
    re-parsed as a check, and the aggregates whose spelling differs between engines. Each
    :class:`~services.warehouse.base.Warehouse` adapter carries one (Spark shares Databricks')."""

    name: str
    # DuckDB parses (and rejects) a statement itself a moment later, in-process; elsewhere the
    # statement is re-parsed here so a builder bug is an error before it reaches a remote engine.
    validate: bool
    # HISTOGRAM(x, points), LIST(x) and list-valued quantiles (QUANTILE_CONT(x, [..]) sorted lists):
    # the cell-count and sampled-order-statistics paths of the drift profile.
    list_aggregates: bool

    def render(self, expression: exp.Expr) -> str:
        """``expression`` as SQL text in this dialect; parameters stay named placeholders."""
        # copy=False: every tree here is built for this one rendering (the generator would
        # otherwise deep-copy it first: about a sixth of the time spent building a report's
        # statements)
        sql = expression.sql(dialect=self.name, copy=False)
        if self.validate:
            _validate(sql, self.name)
        return sql

    def quantiles(self, value: exp.Expr, probs: Sequence[float], *, discrete: bool) -> exp.Expr:
        """Exact quantiles of ``value`` at ``probs`` as one array: linear interpolation (as
        ``numpy.quantile``), or the discrete order statistics."""
        arr = exp.Array(expressions=[exp.Literal.number(repr(float(p))) for p in probs])
        if self.list_aggregates:  # DuckDB
            fn = "QUANTILE_DISC" if discrete else "QUANTILE_CONT"
            return exp.Anonymous(this=fn, expressions=[value, arr])
        if discrete:  # Databricks / Spark: exact discrete percentiles over an array literal
            return exp.WithinGroup(
                this=exp.Anonymous(this="PERCENTILE_DISC", expressions=[arr]),
                expression=exp.Order(expressions=[exp.Ordered(this=value, nulls_first=False)]),
            )
        return exp.Anonymous(this="PERCENTILE", expressions=[value, arr])  # exact, linear interpolation


DUCKDB = SqlDialect("duckdb", validate=False, list_aggregates=True)
DATABRICKS = SqlDialect("databricks", validate=True, list_aggregates=False)
_BY_NAME = {d.name: d for d in (DUCKDB, DATABRICKS)}
DIALECTS = tuple(_BY_NAME)


def sql_dialect(name: str) -> SqlDialect:
    """The :class:`SqlDialect` called ``name`` (one of :data:`DIALECTS`)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise BadInput(f"unknown SQL dialect {name!r}") from None


def render(expression: exp.Expr, dialect: str) -> str:
    """``expression`` as SQL text in the dialect called ``dialect`` (see :meth:`SqlDialect.render`)."""
    return sql_dialect(dialect).render(expression)


@functools.lru_cache(maxsize=256)
def _validate(sql: str, dialect: str) -> None:
    """The statement must parse back in its own dialect (cached: the same shapes recur, values
    travel as parameters so the text repeats)."""
    try:
        sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError as exc:  # pragma: no cover - a builder bug, not user input
        raise RuntimeError(f"internal error: generated SQL does not parse ({exc.__class__.__name__})") from None


# -- windows -------------------------------------------------------------------------------------
def window_params(start: datetime | None, end: datetime | None, prefix: str = "w") -> dict[str, Any]:
    """The bounds :func:`window_condition` binds, by name."""
    params: dict[str, Any] = {}
    if start is not None:
        params[f"{prefix}_start"] = start
    if end is not None:
        params[f"{prefix}_end"] = end
    return params


def window_condition(
    ts: str | None, start: datetime | None, end: datetime | None, params: dict[str, Any], prefix: str = "w"
) -> exp.Expr | None:
    """``ts >= :w_start AND ts < :w_end`` (either side optional; ``None`` without bounds); the
    bounds are added to ``params``."""
    params.update(window_params(start, end, prefix))
    if start is None and end is None:
        return None
    if ts is None:
        raise BadInput("a date window needs a timestamp column")
    conds: list[exp.Expr] = []
    if start is not None:
        conds.append(exp.GTE(this=column(ts), expression=param(f"{prefix}_start")))
    if end is not None:
        conds.append(exp.LT(this=column(ts), expression=param(f"{prefix}_end")))
    return exp.and_(*conds) if len(conds) > 1 else conds[0]


def date_bucket(ts: str | None, unit: str) -> exp.Expr:
    """``CAST(DATE_TRUNC(unit, ts) AS DATE)``: calendar days/weeks/months (UTC session time zone),
    as DATE so that no tz-aware values have to cross into Python."""
    if unit not in WINDOW_UNITS:
        raise BadInput(f"window unit must be one of {', '.join(WINDOW_UNITS)}")
    if ts is None:
        raise BadInput("a window unit needs a timestamp column")
    return exp.cast(
        exp.Anonymous(this="DATE_TRUNC", expressions=[exp.Literal.string(unit.upper()), column(ts)]), "DATE"
    )


# -- queries -------------------------------------------------------------------------------------
def schema_query(table: exp.Table, dialect: str) -> str:
    """No rows, every column: what a connector's cursor description names and types."""
    return render(exp.select(exp.Star()).from_(table.copy()).limit(0), dialect)


def max_query(table: exp.Table, ts: str, dialect: str) -> tuple[str, dict[str, Any]]:
    """The newest ``ts`` as a DATE, one row."""
    return render(exp.select(exp.cast(exp.Max(this=column(ts)), "DATE")).from_(table.copy()), dialect), {}
