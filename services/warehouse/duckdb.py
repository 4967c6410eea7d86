"""DuckDB, embedded: CSV / Parquet files and folders, Delta tables (read with ``deltalake`` as Arrow
datasets, incl. version time travel), DuckDB database files and in-memory Arrow / pandas data.

Nothing is loaded into memory: DuckDB scans files and Arrow datasets lazily, and only the
aggregates (or the projected, filtered rows a caller asks for) come back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import duckdb
from sqlglot import exp

from services.errors import BadInput, NotFound
from services.warehouse.base import Params, Rows, Source, Warehouse, open_delta_table
from services.warehouse.sql import DUCKDB, table_expression

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

VIEW = "driftgate_source"
NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
    "DECIMAL",
)
_MAX_PARALLEL = 8


class DuckDBWarehouse(Warehouse):
    """A DuckDB connection and the table (or view) to read.

    ``cursor``: a new connection to the same database that sees the same table (``None``: queries
    run one after another on ``conn``). Used to run column groups concurrently: DuckDB scans one
    Parquet row group with one thread, and a query's holistic aggregates finalize on one thread;
    it releases the GIL while a query runs."""

    sql = DUCKDB
    numeric_types: ClassVar[tuple[str, ...]] = NUMERIC_TYPES
    in_process = True

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        table: exp.Table,
        columns: dict[str, str],
        cursor: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        super().__init__(conn, table, columns)
        self.cursor: Callable[[], duckdb.DuckDBPyConnection] | None = cursor

    @property
    def parallelism(self) -> int:
        return max(1, min(os.cpu_count() or 1, _MAX_PARALLEL)) if self.cursor is not None else 1

    def execute(self, statement: str, params: Params) -> Rows:
        return self.conn.execute(statement, params).fetchall()  # type: ignore[no-any-return]

    def _execute_concurrently(self, query: tuple[str, Params]) -> Rows:
        if self.cursor is None:  # pragma: no cover - parallelism is 1 without cursors
            return self.execute(*query)
        con = self.cursor()
        try:
            return con.execute(query[0], query[1]).fetchall()
        finally:
            con.close()

    def fetch_frame(self, statement: str, params: Params) -> pd.DataFrame:
        frame: pd.DataFrame = self.conn.execute(statement, params).df()
        return frame

    def fetch_arrays(self, statement: str, params: Params) -> dict[str, np.ndarray[Any, Any]]:
        return self.conn.execute(statement, params).fetchnumpy()  # type: ignore[no-any-return]


def configure_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    """UTC calendar windows; no progress bar (DuckDB draws it on stdout, which must stay JSON)."""
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")


def column_types(rel: duckdb.DuckDBPyRelation) -> dict[str, str]:
    return {c: str(t).upper() for c, t in zip(rel.columns, rel.types)}


def on_view(con: duckdb.DuckDBPyConnection, view: str) -> DuckDBWarehouse:
    """A warehouse over a view (or registered pandas / Arrow data) already on ``con``; statements
    run one after another on ``con``."""
    return DuckDBWarehouse(con, exp.to_table(view), column_types(con.table(view)))


@contextmanager
def open_duckdb_file(source: Source) -> Iterator[DuckDBWarehouse]:
    """``source.table`` of the DuckDB file ``source.path``, read only."""
    if not source.path or not Path(source.path).exists():
        raise NotFound(f"no such DuckDB file: {source.path}")
    name = source.table or ""
    try:
        con = duckdb.connect(source.path, read_only=True)
        configure_duckdb(con)
    except duckdb.Error as exc:
        raise BadInput(f"cannot open DuckDB file {Path(source.path).name}: {type(exc).__name__}") from None
    try:
        table = table_expression(name)
        try:
            rel = (
                con.table(name)
                if "." not in name
                else con.sql("SELECT * FROM " + DUCKDB.render(table.copy()) + " LIMIT 0")
            )
            columns = column_types(rel)
        except duckdb.Error:
            raise NotFound(f"no table {name!r} in {Path(source.path).name}") from None
        yield DuckDBWarehouse(con, table, columns, cursor=lambda: _cursor(con))
    finally:
        con.close()


@contextmanager
def open_files(source: Source) -> Iterator[DuckDBWarehouse]:
    """A CSV / Parquet / Delta source as the view :data:`VIEW` on an in-memory database."""
    con = duckdb.connect()
    try:
        configure_duckdb(con)
        dataset = _register_file_source(con, source)
        cursor = None
        if source.type != "csv":  # columnar: a column group reads only its columns

            def cursor() -> duckdb.DuckDBPyConnection:
                return _cursor(con, dataset)

        yield DuckDBWarehouse(con, exp.to_table(VIEW), column_types(con.table(VIEW)), cursor=cursor)
    finally:
        con.close()


def _cursor(con: duckdb.DuckDBPyConnection, dataset: Any = None) -> duckdb.DuckDBPyConnection:
    """A connection to ``con``'s database with the same settings (views are shared; a registered
    Arrow dataset is connection-local, so it is registered again)."""
    cur = con.cursor()
    configure_duckdb(cur)
    if dataset is not None:
        cur.register(VIEW, dataset)
    return cur


def _register_file_source(con: duckdb.DuckDBPyConnection, source: Source) -> Any:
    """Create the source view on ``con``; returns the Arrow dataset for Delta tables (else None)."""
    path = source.path or ""
    if not Path(path).exists():
        raise NotFound(f"no such file or folder: {path}")
    try:
        if source.type == "csv":
            rel = con.read_csv(path)
        elif source.type == "parquet":
            target = str(Path(path) / "*.parquet") if Path(path).is_dir() else path
            rel = con.read_parquet(target)
        elif source.type == "delta":
            dataset = open_delta_table(path, source.version).to_pyarrow_dataset()
            con.register(VIEW, dataset)
            return dataset
        else:
            raise BadInput(f"unsupported source type {source.type!r}")
        rel.create_view(VIEW)
        return None
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise BadInput(f"unreadable {source.type} source {Path(path).name}: {first}") from None
