"""The one interface every SQL engine implements (:class:`Warehouse`), and what it reads
(:class:`Source`, :class:`Window`).

An adapter per engine — :mod:`~services.warehouse.duckdb` (embedded: files, Arrow data, DuckDB
files), :mod:`~services.warehouse.databricks` (a Databricks SQL warehouse) and
:mod:`~services.warehouse.spark` (a local session or Spark Connect) — renders sqlglot trees in its
dialect (:meth:`Warehouse.render`), runs them with named parameters (:meth:`Warehouse.execute`),
describes its table (:meth:`Warehouse.schema`) and reads windows of rows
(:meth:`Warehouse.read_window`). What differs between engines lives in the adapter: the dialect's
spellings (:class:`~services.warehouse.sql.SqlDialect`), the numeric type names, whether columns
can be fetched into this process, how many statements run at once.

Windows (:class:`Window`) select rows by a date range on a timestamp column (end date inclusive) or
by the last N days (relative to the newest timestamp in the source).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from deltalake import DeltaTable
from sqlglot import exp

from services.errors import BadInput, Unavailable
from services.warehouse.sql import SqlDialect, column, max_query, param

if TYPE_CHECKING:  # only for annotations: the adapters build the frames
    import numpy as np
    import pandas as pd

Params = dict[str, Any]
Rows = list[tuple[Any, ...]]
ROW_TIME = "_ts"  # the timestamp column of read_window's frames (as TIMESTAMP)


@dataclass(frozen=True)
class Source:
    type: str
    path: str | None = None  # csv / parquet / delta / duckdb file
    table: str | None = None  # duckdb table or databricks "catalog.schema.table"
    version: int | None = None  # delta time travel
    label: str | None = None  # what reports show as "source"
    format: str | None = None  # spark files: csv | parquet | delta (the path's kind)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        base = self.path or self.table or "?"
        if self.type == "duckdb" and self.table:
            base = f"{self.path}:{self.table}"
        return f"{base}@v{self.version}" if self.version is not None else base

    def at_version(self, version: int | None) -> Source:
        if version is not None and self.type != "delta" and self.format != "delta":
            raise BadInput("a table version applies to Delta sources only")
        return replace(self, version=version)


@dataclass(frozen=True)
class Window:
    """Rows whose ``timestamp`` falls in [start, end] (dates, end inclusive) or the last ``days``
    days of the source (``days`` counted back from the newest timestamp's date)."""

    timestamp: str | None = None
    start: date | None = None
    end: date | None = None
    days: int | None = None

    @property
    def empty_filter(self) -> bool:
        return self.start is None and self.end is None and self.days is None

    def describe(self) -> str:
        if self.days is not None:
            return f"last {self.days} days"
        if self.start or self.end:
            return f"{self.start or '…'} to {self.end or '…'}"
        return "all rows"


def parse_date(value: Any, what: str = "date") -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadInput(f"{what} is not an ISO date (YYYY-MM-DD): {str(value)[:40]!r}") from None


def as_date(value: Any) -> date | None:
    """A window key or timestamp from an engine as a UTC date (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(UTC).date()
    return parse_date(value)


def open_delta_table(path: str, version: int | None) -> DeltaTable:
    """The ``deltalake.DeltaTable`` at ``path`` (at ``version`` when given); one line if it cannot
    be opened."""
    try:
        return DeltaTable(path, version=version) if version is not None else DeltaTable(path)
    except Exception as exc:
        raise BadInput(
            f"cannot open Delta table {Path(path).name}"
            + (f" at version {version}" if version is not None else "")
            + f": {type(exc).__name__}"
        ) from None


class Warehouse(ABC):
    """One SQL engine holding one table: renders, executes, describes, reads windows."""

    sql: ClassVar[SqlDialect]  # how this engine spells SQL
    numeric_types: ClassVar[tuple[str, ...]]  # its type names that profile as numeric
    # Whether columns can be fetched into this process as arrays (:meth:`fetch_arrays`); a
    # warehouse or Spark table stays where it is and answers aggregates only.
    in_process: ClassVar[bool] = False
    # A factory of further connections to the same data, for statements run side by side
    # (``None``: every statement runs on :attr:`conn`).
    cursor: Callable[[], Any] | None = None

    def __init__(self, conn: Any, table: exp.Table, columns: dict[str, str] | None = None) -> None:
        self.conn = conn  # the engine's connection / session
        self.table = table  # what statements select from
        self.columns: dict[str, str] = dict(columns or {})  # name -> SQL type (upper case)

    # -- what the engine is ---------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        """The sqlglot dialect statements are rendered in (``duckdb`` | ``databricks``)."""
        return self.sql.name

    @property
    def engine(self) -> str:
        """What a report calls the engine that ran its statements."""
        return self.sql.name

    @property
    def list_aggregates(self) -> bool:
        """HISTOGRAM / LIST / list-valued quantiles (see :class:`~services.warehouse.sql.SqlDialect`)."""
        return self.sql.list_aggregates

    @property
    def parallelism(self) -> int:
        """Into how many column groups a scan is split (one statement each, run at once)."""
        return 1

    @property
    def concurrency(self) -> int:
        """How many statements :meth:`execute_many` runs at once."""
        return self.parallelism

    def is_numeric(self, name: str) -> bool:
        return self.columns[name].upper().split("(")[0].strip() in self.numeric_types

    def schema(self) -> dict[str, str]:
        """Column name -> SQL type (upper case), in table order."""
        return dict(self.columns)

    # -- statements ------------------------------------------------------------------------------
    def render(self, expression: exp.Expr) -> str:
        """A sqlglot tree as SQL text in this engine's dialect (values stay named parameters)."""
        return self.sql.render(expression)

    def quantiles(self, value: exp.Expr, probs: Sequence[float], *, discrete: bool) -> exp.Expr:
        """This engine's exact quantile aggregate (see :meth:`SqlDialect.quantiles`)."""
        return self.sql.quantiles(value, probs, discrete=discrete)

    @abstractmethod
    def execute(self, statement: str, params: Params) -> Rows:
        """The rows of one rendered statement; ``params`` bound by name, never inlined."""

    @abstractmethod
    def fetch_frame(self, statement: str, params: Params) -> pd.DataFrame:
        """The result of one rendered statement as a pandas DataFrame (columns by name)."""

    def fetch_arrays(self, statement: str, params: Params) -> dict[str, np.ndarray[Any, Any]]:
        """The result's columns as numpy (masked where NULL) arrays; in-process engines only."""
        raise Unavailable(f"{self.engine} tables stay where they are: no rows are fetched into this process")

    def execute_many(self, queries: Sequence[tuple[str, Params]]) -> list[Rows]:
        """Results of several statements, in order; up to :attr:`concurrency` at once."""
        if len(queries) <= 1 or self.concurrency <= 1:
            return [self.execute(sql, params) for sql, params in queries]
        with ThreadPoolExecutor(max_workers=min(len(queries), self.concurrency)) as pool:
            return list(pool.map(self._execute_concurrently, queries))

    def _execute_concurrently(self, query: tuple[str, Params]) -> Rows:
        """One statement of a concurrent batch (an adapter may use a connection of its own)."""
        return self.execute(*query)

    # -- windows ---------------------------------------------------------------------------------
    def newest_date(self, timestamp: str) -> date | None:
        """The date of the newest ``timestamp`` (``None`` when no row has one)."""
        sql, params = max_query(self.table, timestamp, self.dialect)
        rows = self.execute(sql, params)
        value = rows[0][0] if rows else None
        return None if value is None else parse_date(value)

    def resolve_window(self, window: Window) -> tuple[datetime | None, datetime | None]:
        """Half-open [start, end) timestamps for a window (end date inclusive -> next midnight)."""
        if window.empty_filter:
            return None, None
        if not window.timestamp:
            raise BadInput("a date window needs a timestamp column")
        if window.timestamp not in self.columns:
            raise BadInput(f"timestamp column {window.timestamp!r} is not in the data")
        start, end = window.start, window.end
        if window.days is not None:
            if window.days < 1:
                raise BadInput("a window of the last N days needs N >= 1")
            last = self.newest_date(window.timestamp)
            if last is None:
                raise BadInput("the data has no rows with a timestamp")
            end = last
            start = last - timedelta(days=window.days - 1)
        return (_midnight(start) if start else None, _midnight(end + timedelta(days=1)) if end else None)

    def newest_time(self, timestamp: str, *, before: datetime, required: Sequence[str] = ()) -> datetime | None:
        """The newest ``CAST(timestamp AS TIMESTAMP)`` before ``before`` among rows whose
        ``required`` columns (e.g. the label) are set; ``None`` when there is none."""
        params: Params = {}
        q = exp.select(exp.Max(this=_as_timestamp(timestamp))).from_(self.table.copy())
        q = q.where(_rows_condition(timestamp, None, before, required, params))
        rows = self.execute(self.render(q), params)
        newest: datetime | None = rows[0][0] if rows else None
        return newest

    def read_window(
        self,
        columns: Sequence[str],
        timestamp: str,
        start: datetime | None,
        end: datetime | None,
        *,
        required: Sequence[str] = (),
        newest: int | None = None,
    ) -> pd.DataFrame:
        """``columns`` plus :data:`ROW_TIME` (``CAST(timestamp AS TIMESTAMP)``) of the rows with
        ``start <= timestamp < end`` whose ``required`` columns are set — only the newest
        ``newest`` rows when given — in chronological order (projection and filter run in the
        engine). Naive datetimes are UTC."""
        params: Params = {}
        q = exp.select(*[column(c) for c in columns], exp.alias_(_as_timestamp(timestamp), ROW_TIME, quoted=True))
        q = q.from_(self.table.copy()).where(_rows_condition(timestamp, start, end, required, params))
        q = q.order_by(exp.Ordered(this=exp.column(ROW_TIME, quoted=True), desc=True))
        if newest is not None:
            q = q.limit(param("newest"))
            params["newest"] = int(newest)
        frame = self.fetch_frame(self.render(q), params)
        return frame.iloc[::-1].reset_index(drop=True)  # chronological


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _as_timestamp(timestamp: str) -> exp.Expr:
    return exp.cast(column(timestamp), "TIMESTAMP")


def _rows_condition(
    timestamp: str, start: datetime | None, end: datetime | None, required: Sequence[str], params: Params
) -> exp.Expr:
    """``required IS NOT NULL AND CAST(ts AS TIMESTAMP) >= :start AND ... < :end`` (bounds as
    naive UTC parameters)."""
    conds: list[exp.Expr] = [exp.Not(this=exp.Is(this=column(c), expression=exp.null())) for c in required]
    for name, bound, op in (("start", start, exp.GTE), ("end", end, exp.LT)):
        if bound is not None:
            conds.append(op(this=_as_timestamp(timestamp), expression=param(name)))
            params[name] = _naive_utc(bound)
    if not conds:
        return exp.true()
    return exp.and_(*conds)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
