"""Data sources for the drift engine: CSV, Parquet, Delta folders, DuckDB files, Databricks tables,
Apache Spark tables and files.

A :class:`Source` says *where* the rows are; :func:`open_backend` gives a SQL backend (DuckDB for
everything local, a Databricks SQL warehouse for Unity Catalog / Hive tables, a Spark session —
Spark Connect or local — for ``type = "spark"``, see :mod:`services.warehouse.spark`) plus the table
expression to query. A backend renders, executes and describes; the statements themselves are
built once in :mod:`services.drift.sql` on the vocabulary of :mod:`services.warehouse.sql` (DuckDB or Databricks dialect). Nothing here loads a table into memory: DuckDB scans files and Arrow datasets
lazily (Delta tables are read with ``deltalake``, incl. version time travel), and only the small
aggregates built by :mod:`services.drift.sql` come back.

Windows (:class:`Window`) select rows by a date range on a timestamp column (end date inclusive) or
by the last N days (relative to the newest timestamp in the source).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from services.errors import BadInput, NotFound, Unavailable
from services.warehouse.sql import max_query, schema_query, table_expression

SOURCE_TYPES = ("csv", "parquet", "delta", "duckdb", "databricks", "spark")
FILE_FORMATS = ("csv", "parquet", "delta")
_NUMERIC_DUCK = (
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
_NUMERIC_SPARK = (
    "TINYINT",
    "SMALLINT",
    "INT",
    "INTEGER",
    "BIGINT",
    "LONG",
    "SHORT",
    "BYTE",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


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


def open_delta_table(path: str, version: int | None):
    """The ``deltalake.DeltaTable`` at ``path`` (at ``version`` when given); one line if it cannot
    be opened."""
    from deltalake import DeltaTable

    try:
        return DeltaTable(path, version=version) if version is not None else DeltaTable(path)
    except Exception as exc:
        raise BadInput(
            f"cannot open Delta table {Path(path).name}"
            + (f" at version {version}" if version is not None else "")
            + f": {type(exc).__name__}"
        ) from None


def window_from_config(doc: Any, timestamp: str | None) -> Window:
    """``{start=..., end=...}`` or ``{days=N}`` from a TOML table."""
    if not doc:
        return Window(timestamp=timestamp)
    if not isinstance(doc, dict):
        raise BadInput("a window must be a table like {start=..., end=...} or {days=N}")
    days = doc.get("days")
    return Window(
        timestamp=timestamp,
        start=parse_date(doc["start"], "window start") if doc.get("start") else None,
        end=parse_date(doc["end"], "window end") if doc.get("end") else None,
        days=int(days) if days is not None else None,
    )


# -- resolving sources ----------------------------------------------------------------------------
def source_from_path(path: str) -> Source:
    """A CLI argument: a CSV/Parquet file, a folder of Parquet files, or a Delta table folder."""
    p = Path(path)
    if not p.exists():
        raise NotFound(f"no such file or folder: {path}")
    if p.is_dir():
        if (p / "_delta_log").is_dir():
            return Source("delta", path=str(p))
        if any(p.glob("*.parquet")):
            return Source("parquet", path=str(p))
        raise BadInput(f"unreadable format: {path} is a folder without a Delta log or Parquet files")
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt") or p.name.lower().endswith(".csv.gz"):
        return Source("csv", path=str(p))
    if suffix in (".parquet", ".pq"):
        return Source("parquet", path=str(p))
    if suffix in (".duckdb", ".db"):
        raise BadInput(f"a DuckDB file needs a table: configure it as a [sources] entry ({p.name})")
    # Sniff Parquet's magic bytes before giving up.
    try:
        with open(p, "rb") as fh:
            if fh.read(4) == b"PAR1":
                return Source("parquet", path=str(p))
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    raise BadInput(f"unreadable format: {path} (expected CSV, Parquet or a Delta table folder)")


def on_spark(source: Source) -> Source:
    """The same files (or Spark table) read by Spark instead of DuckDB (``--engine spark``)."""
    if source.type == "spark":
        return source
    if source.type not in FILE_FORMATS:
        raise BadInput(f"the spark engine reads CSV, Parquet and Delta files or Spark tables, not {source.type}")
    return Source("spark", path=source.path, version=source.version, label=source.name, format=source.type)


def _format_of(path: str) -> str:
    """A Spark source's file format from its path (local paths are sniffed like CLI arguments)."""
    if "://" in path and not path.startswith("file://"):
        low = path.rstrip("/").lower()
        return "csv" if low.endswith((".csv", ".csv.gz", ".tsv")) else "parquet"
    return source_from_path(path.removeprefix("file://")).type


def source_from_settings(settings, name: str) -> Source:
    doc = settings.section("sources", name)
    if not doc:
        raise NotFound(f"no data source named {name!r} in the configuration")
    kind = str(doc.get("type", "")).lower()
    if kind not in SOURCE_TYPES:
        raise BadInput(f"source {name!r}: type must be one of {', '.join(SOURCE_TYPES)}")
    raw_path = str(doc["path"]) if doc.get("path") else None
    # a URI (s3://, abfss://, hdfs://...) is the Spark server's business, not a local path
    path = (raw_path if raw_path and "://" in raw_path else str(settings.resolve_path(raw_path))) if raw_path else None
    table = doc.get("table")
    if kind == "spark":
        if bool(path) == bool(table):
            raise BadInput(f"source {name!r}: a spark source needs either 'table' or 'path'")
        fmt = str(doc.get("format", "")).lower() or (_format_of(path) if path else None)
        if fmt is not None and fmt not in FILE_FORMATS:
            raise BadInput(f"source {name!r}: format must be one of {', '.join(FILE_FORMATS)}")
        version = doc.get("version")
        return Source(
            kind,
            path=path,
            table=str(table) if table else None,
            label=name,
            format=fmt,
            version=int(version) if version is not None else None,
        )
    if kind in ("csv", "parquet", "delta", "duckdb") and not path:
        raise BadInput(f"source {name!r}: 'path' is required for type {kind}")
    if kind in ("duckdb", "databricks") and not table:
        raise BadInput(f"source {name!r}: 'table' is required for type {kind}")
    version = doc.get("version")
    return Source(kind, path=path, table=table, version=int(version) if version is not None else None, label=name)


# -- backends ------------------------------------------------------------------------------------
@dataclass
class Backend:
    """A SQL connection plus the dialect its SQL is rendered in and the table to read. This base
    class runs statements on DuckDB; :class:`WarehouseBackend` (Databricks SQL) and
    :class:`services.warehouse.spark.SparkBackend` run the Databricks-dialect statements elsewhere."""

    dialect: str  # "duckdb" | "databricks"
    conn: Any
    table: Any  # sqlglot exp.Table
    columns: dict[str, str]  # name -> SQL type (upper case)
    # DuckDB: a new connection to the same database that sees the same table (``None``: queries
    # run one after another on ``conn``). Used to run column groups concurrently: DuckDB scans one
    # Parquet row group with one thread, and a query's holistic aggregates finalize on one thread.
    cursor: Callable[[], Any] | None = None

    numeric_types: ClassVar[tuple[str, ...]] = _NUMERIC_DUCK

    @property
    def engine(self) -> str:
        """What a report calls the engine that ran its statements."""
        return self.dialect

    @property
    def parallelism(self) -> int:
        return max(1, min(os.cpu_count() or 1, 8)) if self.cursor is not None else 1

    def execute(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def execute_many(self, queries: list[tuple[str, dict[str, Any]]]) -> list[list[tuple]]:
        """Results of several statements, in order; concurrently on cursors when available
        (DuckDB releases the GIL while a query runs)."""
        if len(queries) <= 1 or self.cursor is None:
            return [self.execute(sql, params) for sql, params in queries]

        def run(query: tuple[str, dict[str, Any]]) -> list[tuple]:
            con = self.cursor()
            try:
                return con.execute(query[0], query[1]).fetchall()
            finally:
                con.close()

        with ThreadPoolExecutor(max_workers=min(len(queries), self.parallelism)) as pool:
            return list(pool.map(run, queries))

    def is_numeric(self, column: str) -> bool:
        return self.columns[column].upper().split("(")[0].strip() in self.numeric_types


@dataclass
class WarehouseBackend(Backend):
    """A Databricks SQL warehouse through a PEP 249 connection (databricks-sql-connector's native
    named parameters)."""

    numeric_types: ClassVar[tuple[str, ...]] = _NUMERIC_SPARK

    def execute(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, parameters=params)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()


_VIEW = "driftgate_source"


def configure_duckdb(con) -> None:
    """UTC calendar windows; no progress bar (DuckDB draws it on stdout, which must stay JSON)."""
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")


def _duck_types(con, view: str) -> dict[str, str]:
    rel = con.table(view)
    return {c: str(t).upper() for c, t in zip(rel.columns, rel.types)}


@contextmanager
def open_backend(source: Source, settings=None, connection_factory=None) -> Iterator[Backend]:
    """A :class:`Backend` reading ``source``. ``connection_factory`` (tests) replaces
    ``databricks.sql.connect`` for Databricks sources."""
    from sqlglot import exp

    if source.type == "spark":
        from services.warehouse.spark import open_spark_backend

        with open_spark_backend(source, settings) as backend:
            yield backend
        return

    if source.type == "databricks":
        conn = _databricks_connect(settings, connection_factory)
        try:
            table = table_expression(source.table)
            backend = WarehouseBackend("databricks", conn, table, {})
            backend.columns = _databricks_columns(backend)
            yield backend
        finally:
            try:
                conn.close()
            except Exception:
                pass
        return

    import duckdb

    if source.type == "duckdb":
        if not source.path or not Path(source.path).exists():
            raise NotFound(f"no such DuckDB file: {source.path}")
        try:
            con = duckdb.connect(source.path, read_only=True)
            configure_duckdb(con)
        except duckdb.Error as exc:
            raise BadInput(f"cannot open DuckDB file {Path(source.path).name}: {type(exc).__name__}") from None
        try:
            table = table_expression(source.table)
            try:
                rel = (
                    con.table(source.table)
                    if "." not in source.table
                    else con.sql("SELECT * FROM " + table.sql("duckdb") + " LIMIT 0")
                )
                columns = {c: str(t).upper() for c, t in zip(rel.columns, rel.types)}
            except duckdb.Error:
                raise NotFound(f"no table {source.table!r} in {Path(source.path).name}") from None
            yield Backend("duckdb", con, table, columns, cursor=lambda: _cursor(con))
        finally:
            con.close()
        return

    con = duckdb.connect()
    try:
        configure_duckdb(con)
        dataset = _register_file_source(con, source)
        cursor = None
        if source.type != "csv":  # columnar: a column group reads only its columns
            cursor = lambda: _cursor(con, dataset)
        yield Backend("duckdb", con, exp.to_table(_VIEW), _duck_types(con, _VIEW), cursor=cursor)
    finally:
        con.close()


def _cursor(con, dataset=None):
    """A connection to ``con``'s database with the same settings (views are shared; a registered
    Arrow dataset is connection-local, so it is registered again)."""
    cur = con.cursor()
    configure_duckdb(cur)
    if dataset is not None:
        cur.register(_VIEW, dataset)
    return cur


def _register_file_source(con, source: Source):
    """Create the source view on ``con``; returns the Arrow dataset for Delta tables (else None)."""
    import duckdb

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
            con.register(_VIEW, dataset)
            return dataset
        else:
            raise BadInput(f"unsupported source type {source.type!r}")
        rel.create_view(_VIEW)
        return None
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise BadInput(f"unreadable {source.type} source {Path(path).name}: {first}") from None


def _databricks_connect(settings, factory):
    db = getattr(settings, "databricks", None)
    if factory is None:
        if db is None or not db.configured or not db.token:
            raise Unavailable("Databricks is not configured (DATABRICKS_HOST, DATABRICKS_HTTP_PATH, DATABRICKS_TOKEN)")
        from databricks import sql as dbsql

        factory = dbsql.connect
        timeout = float(settings.section("databricks")["timeout_seconds"])
        # Bounded connect + per-request time and retry budget (the connector's defaults retry
        # a dead host for 15 minutes): ``[databricks] timeout_seconds``.
        limits = {
            "_socket_timeout": timeout,
            "_retry_stop_after_attempts_count": 2,
            "_retry_stop_after_attempts_duration": timeout,
            "_retry_delay_max": 5.0,
        }  # the connector's floor
    else:
        limits = {}
    host = (db.host if db else None) or ""
    host = host.replace("https://", "").replace("http://", "").rstrip("/")
    try:
        return factory(
            server_hostname=host,
            http_path=(db.http_path if db else None),
            access_token=(db.token.get() if db else None),
            **limits,
        )
    except Exception as exc:
        raise Unavailable(f"cannot connect to the Databricks SQL warehouse ({type(exc).__name__})") from None


def _databricks_columns(backend: Backend) -> dict[str, str]:

    sql = schema_query(backend.table, backend.dialect)
    cur = backend.conn.cursor()
    try:
        cur.execute(sql, parameters={})
        desc = cur.description or []
        cur.fetchall()
    except Exception as exc:
        raise NotFound(f"cannot read table {backend.table.sql('databricks')} ({type(exc).__name__})") from None
    finally:
        cur.close()
    # PEP 249 description: (name, type_code, ...); the connector's type codes are names like "double".
    return {d[0]: str(d[1]).upper() for d in desc}


def newest_date(backend: Backend, timestamp: str) -> date | None:

    sql, params = max_query(backend.table, timestamp, backend.dialect)
    rows = backend.execute(sql, params)
    value = rows[0][0] if rows else None
    if value is None:
        return None
    return parse_date(value)


def resolve_window(backend: Backend, window: Window) -> tuple[datetime | None, datetime | None]:
    """Half-open [start, end) timestamps for a window (end date inclusive -> next midnight)."""
    if window.empty_filter:
        return None, None
    if not window.timestamp:
        raise BadInput("a date window needs a timestamp column")
    if window.timestamp not in backend.columns:
        raise BadInput(f"timestamp column {window.timestamp!r} is not in the data")
    start, end = window.start, window.end
    if window.days is not None:
        if window.days < 1:
            raise BadInput("a window of the last N days needs N >= 1")
        last = newest_date(backend, window.timestamp)
        if last is None:
            raise BadInput("the data has no rows with a timestamp")
        end = last
        start = last - timedelta(days=window.days - 1)
    to_dt = lambda d: datetime(d.year, d.month, d.day)  # noqa: E731
    return (to_dt(start) if start else None, to_dt(end + timedelta(days=1)) if end else None)
