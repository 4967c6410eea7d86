"""Where the rows are, and the engine that reads them: :func:`open_backend` turns a
:class:`~services.warehouse.base.Source` (CSV, Parquet, Delta folders, DuckDB files, Databricks
tables, Spark tables and files) into a :class:`~services.warehouse.base.Warehouse` adapter —
DuckDB for everything local, a Databricks SQL warehouse for Unity Catalog / Hive tables, a Spark
session (Spark Connect or local) for ``type = "spark"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services.errors import BadInput, NotFound
from services.warehouse.base import Source, Warehouse, Window, as_date, open_delta_table, parse_date
from services.warehouse.databricks import Connect, open_databricks
from services.warehouse.duckdb import configure_duckdb, open_duckdb_file, open_files
from services.warehouse.spark import open_spark

if TYPE_CHECKING:
    from services.config import Settings

__all__ = [
    "FILE_FORMATS",
    "SOURCE_TYPES",
    "Backend",
    "Source",
    "Window",
    "as_date",
    "configure_duckdb",
    "newest_date",
    "on_spark",
    "open_backend",
    "open_delta_table",
    "parse_date",
    "resolve_window",
    "source_from_path",
    "source_from_settings",
]

SOURCE_TYPES = ("csv", "parquet", "delta", "duckdb", "databricks", "spark")
FILE_FORMATS = ("csv", "parquet", "delta")
Backend = Warehouse  # the name callers' annotations use


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


def source_from_settings(settings: Settings, name: str) -> Source:
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


# -- engines -------------------------------------------------------------------------------------
@contextmanager
def open_backend(
    source: Source, settings: Settings | None = None, connection_factory: Connect | None = None
) -> Iterator[Warehouse]:
    """The :class:`~services.warehouse.base.Warehouse` adapter reading ``source``.
    ``connection_factory`` (tests) replaces ``databricks.sql.connect`` for Databricks sources."""
    if source.type == "spark":
        with open_spark(source, settings) as spark:
            yield spark
    elif source.type == "databricks":
        with open_databricks(source, settings, connection_factory) as databricks:
            yield databricks
    elif source.type == "duckdb":
        with open_duckdb_file(source) as duck:
            yield duck
    else:
        with open_files(source) as files:
            yield files


def newest_date(backend: Warehouse, timestamp: str) -> date | None:
    """See :meth:`Warehouse.newest_date`."""
    return backend.newest_date(timestamp)


def resolve_window(backend: Warehouse, window: Window) -> tuple[datetime | None, datetime | None]:
    """See :meth:`Warehouse.resolve_window`."""
    return backend.resolve_window(window)
