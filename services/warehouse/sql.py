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
from datetime import datetime
from typing import Any

import sqlglot
from sqlglot import exp

from services.errors import BadInput

DIALECTS = ("duckdb", "databricks")
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


# -- rendering -----------------------------------------------------------------------------------
def render(expression: exp.Expression, dialect: str) -> str:
    """``expression`` as SQL text in ``dialect`` (one of :data:`DIALECTS`)."""
    if dialect not in DIALECTS:
        raise BadInput(f"unknown SQL dialect {dialect!r}")
    # copy=False: every tree here is built for this one rendering (the generator would otherwise
    # deep-copy it first: about a sixth of the time spent building a report's statements)
    sql = expression.sql(dialect=dialect, copy=False)
    if dialect != "duckdb":  # DuckDB parses (and rejects) it itself a moment later, in-process
        _validate(sql, dialect)
    return sql


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
) -> exp.Expression | None:
    """``ts >= :w_start AND ts < :w_end`` (either side optional; ``None`` without bounds); the
    bounds are added to ``params``."""
    params.update(window_params(start, end, prefix))
    if start is None and end is None:
        return None
    if ts is None:
        raise BadInput("a date window needs a timestamp column")
    conds: list[exp.Expression] = []
    if start is not None:
        conds.append(exp.GTE(this=column(ts), expression=param(f"{prefix}_start")))
    if end is not None:
        conds.append(exp.LT(this=column(ts), expression=param(f"{prefix}_end")))
    out = conds[0]
    for c in conds[1:]:
        out = exp.and_(out, c)
    return out


def date_bucket(ts: str | None, unit: str) -> exp.Expression:
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
