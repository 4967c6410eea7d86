"""Apache Spark: the :class:`~services.warehouse.base.Warehouse` adapter for Spark tables and files.

Statements are sqlglot trees rendered in the ``databricks`` dialect (the one Spark SQL reads; every
value a named ``:param``), the same text a Databricks SQL warehouse runs; here they run as ``spark.sql(statement, args={...})`` on

* a Spark Connect server when ``SPARK_REMOTE`` (or ``[spark] remote``) names one, e.g.
  ``sc://spark-gateway:15002`` — the tables may be far bigger than this machine;
* otherwise a local Spark session started in this process (a JVM; ``[spark] master``, default
  ``local[*]``, bound to 127.0.0.1, its log in the temp folder instead of our stderr).

The table is always ``IDENTIFIER(:table)``: a catalog table by name (``[sources.x] type = "spark"``,
``table = "catalog.schema.table"``), or a temporary view over CSV / Parquet / Delta files
(``path``; ``--engine spark`` on files). Only the aggregates' Rows are collected — no row of data
and no pandas conversion leaves Spark.

PySpark is an optional dependency (``requirements-spark.txt``, ~490 MB with its jars); without it
the spark engine says in one line how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlglot import exp

from services.errors import BadInput, NotFound, Unavailable
from services.warehouse.base import Params, Rows, Source, Warehouse, open_delta_table
from services.warehouse.databricks import NUMERIC_TYPES
from services.warehouse.sql import DATABRICKS, param, schema_query

if TYPE_CHECKING:
    import pandas as pd

    from services.config import Settings

INSTALL_HINT = "the spark engine needs PySpark: pip install -r requirements-spark.txt"
JAVA_HINT = (
    "a local Spark session needs a Java runtime (apt-get install openjdk-17-jre-headless), "
    "or set SPARK_REMOTE to a Spark Connect server"
)
TABLE_PARAM = "table"
_TABLE_NAME = re.compile(r"^[\w\-]+(\.[\w\-]+){0,2}$", re.UNICODE)
_sessions: dict[str, Any] = {}
_lock = threading.Lock()
# PySpark warns on import and on its first DataFrame calls, from any thread, that pandas >= 3 is
# not fully supported; no pandas conversion happens here (aggregate Rows only).
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
# The Connect client warns when its retries are exhausted (also while releasing a session at exit);
# the caller reports that as one line (Unavailable).
warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]", category=UserWarning)


# -- configuration ---------------------------------------------------------------------------------
def spark_config(settings: Settings | None = None) -> dict[str, Any]:
    return dict(settings.section("spark")) if settings is not None else {}


def spark_remote(settings: Settings | None = None) -> str | None:
    """The Spark Connect URL: ``SPARK_REMOTE`` first, then ``[spark] remote``; None = local session."""
    url = os.environ.get("SPARK_REMOTE") or spark_config(settings).get("remote") or None
    if url is not None and not str(url).startswith("sc://"):
        raise BadInput("SPARK_REMOTE / [spark] remote must be a Spark Connect URL like sc://host:15002")
    return str(url) if url else None


def describe_remote(url: str) -> str:
    """``sc://host:port`` without the URL's parameters (they may carry a token)."""
    return "sc://" + url[len("sc://") :].split("/", 1)[0].split(";", 1)[0].rsplit("@", 1)[-1]


def _pyspark() -> Any:
    # PySpark is imported here, not at the top: it is optional (requirements-spark.txt) and its
    # import costs ~0.45 s (load 14) that no non-Spark command should pay; the later functions
    # import from it lazily for the same reason.
    try:
        with warnings.catch_warnings():  # PySpark warns that it does not fully support pandas >= 3
            warnings.simplefilter("ignore")
            import pyspark
            from pyspark.logger import PySparkLogger
            from pyspark.sql import SparkSession  # noqa: F401
    except ImportError:
        raise Unavailable(INSTALL_HINT) from None
    # PySpark logs every analysis error with its JVM stack to stderr before raising it; the error
    # reaches the user as one line (the CLI's stderr stays empty on success, a page shows st.error).
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
    return pyspark


# -- sessions --------------------------------------------------------------------------------------
def session(settings: Settings | None = None) -> Any:
    """The process's Spark session for these settings (one per Connect URL, one local), created on
    first use and reused — a local session takes seconds to start."""
    _pyspark()
    remote = spark_remote(settings)
    key = remote or "local"
    with _lock:
        spark = _sessions.get(key)
        if spark is None:
            cfg = spark_config(settings)
            spark = _connect(remote, int(cfg.get("connect_retries", 5))) if remote else _local(cfg)
            _sessions[key] = spark
        return spark


def stop_sessions() -> None:
    """Stop every session this process started (tests, shutdown)."""
    with _lock:
        for spark in _sessions.values():
            with suppress(Exception):
                spark.stop()
        _sessions.clear()


def _connect(url: str, retries: int = 5) -> Any:
    """A Spark Connect session. Its client's default retry policy waits up to ~10 minutes for an
    unreachable server; ``[spark] connect_retries`` (default 5: ≈ 10 s of backoff) bounds it, so a
    wrong SPARK_REMOTE is one line within seconds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from pyspark.sql import SparkSession
            from pyspark.sql.connect.client.retries import DefaultPolicy

            spark = None
            spark = SparkSession.builder.remote(url).create()
            spark.client.set_retry_policies([DefaultPolicy(max_retries=retries, max_backoff=5000)])
            spark.conf.set("spark.sql.session.timeZone", "UTC")  # the first call reaches the server
        except ImportError:
            raise Unavailable(INSTALL_HINT + " (Spark Connect's client libraries are missing)") from None
        except Exception as exc:
            if spark is not None:  # released now, not at exit (where it would retry and warn again)
                try:
                    spark.client.set_retry_policies([DefaultPolicy(max_retries=0)])
                    spark.stop()
                except Exception:
                    pass
            raise Unavailable(
                f"cannot reach the Spark Connect server {describe_remote(url)} ({type(exc).__name__})"
            ) from None
    return spark


def log_path() -> Path:
    return Path(tempfile.gettempdir()) / f"driftgate-spark-{os.getpid()}.log"


def _local(cfg: dict[str, Any]) -> Any:
    """A local session whose JVM binds 127.0.0.1 and writes its console (log4j, JVM notices) to
    :func:`log_path` — the CLI's stdout is JSON and its stderr stays empty on success."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is not None:  # someone in this process already has one
        return SparkSession(SparkContext._active_spark_context)
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise Unavailable(JAVA_HINT)
    conf = (
        SparkConf()
        .setMaster(str(cfg.get("master", "local[*]")))
        .setAppName("driftgate")
        .set("spark.ui.enabled", "false")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.memory", str(cfg.get("driver_memory", "1g")))
        .set("spark.sql.session.timeZone", "UTC")
        .set("spark.sql.shuffle.partitions", str(int(cfg.get("shuffle_partitions", 8))))
        # catalog tables a test or notebook creates go to the temp folder, not ./spark-warehouse
        .set(
            "spark.sql.warehouse.dir",
            str(cfg.get("warehouse") or Path(tempfile.gettempdir()) / "driftgate-spark-warehouse"),
        )
        .set("spark.sql.execution.arrow.pyspark.enabled", "false")
    )
    env_ip = os.environ.get("SPARK_LOCAL_IP")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    try:
        with open(log_path(), "ab") as log:
            gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})  # type: ignore[no-untyped-call]
            sc = SparkContext(conf=conf, gateway=gateway)
    except Exception as exc:
        raise Unavailable(f"cannot start a local Spark session ({type(exc).__name__}; log: {log_path()})") from None
    finally:
        if env_ip is None:
            os.environ.pop("SPARK_LOCAL_IP", None)
        else:
            os.environ["SPARK_LOCAL_IP"] = env_ip
    sc.setLogLevel("ERROR")
    return SparkSession(sc)


# -- the backend -----------------------------------------------------------------------------------
def _arg(value: Any) -> Any:
    """A parameter for ``spark.sql(args=...)``: naive datetimes are UTC (the statements' windows
    are UTC calendar dates, as on DuckDB and the warehouse)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class SparkWarehouse(Warehouse):
    """Runs the Databricks-dialect statements with ``spark.sql(statement, args=...)``; the table
    behind ``IDENTIFIER(:table)`` is bound to every statement (``bound``)."""

    sql = DATABRICKS
    numeric_types: ClassVar[tuple[str, ...]] = NUMERIC_TYPES

    def __init__(self, spark: Any, table: exp.Table, columns: dict[str, str], bound: Params) -> None:
        super().__init__(spark, table, columns)
        self.bound = dict(bound)

    @property
    def engine(self) -> str:
        return "spark"

    @property
    def concurrency(self) -> int:
        """Independent statements (a pass's numeric and category counts) run as concurrent jobs;
        a scan is not split into column groups (:attr:`parallelism` 1): Spark plans one job."""
        return 4

    def _frame(self, statement: str, params: Params) -> Any:
        """The DataFrame of one statement (lazy), with the parameters it names."""
        args = {k: _arg(v) for k, v in {**self.bound, **params}.items() if f":{k}" in statement}
        return self.conn.sql(statement, args=args)

    def execute(self, statement: str, params: Params) -> Rows:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows = self._frame(statement, params).collect()  # aggregate rows only
        except Exception as exc:
            raise BadInput(f"Spark could not aggregate the data ({_message(exc)})") from None
        return [tuple(r) for r in rows]

    def fetch_frame(self, statement: str, params: Params) -> pd.DataFrame:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame: pd.DataFrame = self._frame(statement, params).toPandas()
                return frame
        except Exception as exc:
            raise BadInput(f"Spark could not read the data ({_message(exc)})") from None

    def read_schema(self, source: Source) -> dict[str, str]:
        """The table's columns from the schema of ``SELECT * ... LIMIT 0``."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                schema = self._frame(schema_query(self.table, self.dialect), {}).schema
        except Exception as exc:
            what = f"Spark table {source.table!r}" if source.table else f"{source.format} data {source.name}"
            raise NotFound(f"cannot read {what} ({_reason(exc)})") from None
        return {f.name: f.dataType.simpleString().upper() for f in schema.fields}


def identifier_table() -> exp.Table:
    """``IDENTIFIER(:table)`` as a sqlglot table: the name travels as a parameter."""
    return exp.Table(this=exp.Anonymous(this="IDENTIFIER", expressions=[param(TABLE_PARAM)]))


@contextmanager
def open_spark(source: Source, settings: Settings | None = None) -> Iterator[SparkWarehouse]:
    """A :class:`SparkWarehouse` on ``source``: a catalog table, or a temporary view over its files
    (dropped on exit)."""
    spark = session(settings)
    view = None
    try:
        if source.table:
            name = str(source.table)
            if not _TABLE_NAME.match(name):
                raise BadInput(f"invalid table name {name[:80]!r} (expected catalog.schema.table)")
        else:
            name = view = f"driftgate_{uuid.uuid4().hex[:12]}"
            _reader(spark, source).createOrReplaceTempView(view)
        warehouse = SparkWarehouse(spark, identifier_table(), {}, bound={TABLE_PARAM: name})
        warehouse.columns = warehouse.read_schema(source)
        yield warehouse
    finally:
        if view is not None:
            with suppress(Exception):
                spark.catalog.dropTempView(view)


def _message(exc: Exception) -> str:
    """The first line of the innermost cause (a JVM error's own message, not py4j's "An error
    occurred while calling o81.collectToPython")."""
    text = ""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            root = java
            while root.getCause() is not None:
                root = root.getCause()
            text = str(root.getMessage() or root.toString())
        except Exception:
            text = ""
    text = text or str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:160]


def _reason(exc: Exception) -> str:
    cond = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    try:
        code = cond() if cond else None
    except Exception:
        code = None
    return str(code) if code else type(exc).__name__


def _reader(spark: Any, source: Source) -> Any:
    """A DataFrame over the source's files (lazy: nothing is read until an aggregate runs)."""
    path, fmt = source.path or "", source.format or "parquet"
    local = "://" not in path or path.startswith("file://")
    if local and not Path(path.removeprefix("file://")).exists():
        raise NotFound(f"no such file or folder: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "csv":
                # RFC 4180 quoting ("" inside quotes), as DuckDB and pandas write and read it
                return spark.read.options(header=True, inferSchema=True, escape='"', mode="FAILFAST").csv(path)
            if fmt == "parquet":
                return spark.read.parquet(path)
            if fmt == "delta":
                return _delta(spark, source, local)
    except (BadInput, Unavailable):
        raise
    except Exception as exc:
        raise BadInput(f"unreadable {fmt} source {Path(path).name} ({_reason(exc)})") from None
    raise BadInput(f"unsupported spark file format {fmt!r}")


def _delta(spark: Any, source: Source, local: bool) -> Any:
    """A Delta table: through the server's Delta Lake when the path is remote; a local table's
    active Parquet files (at its version) are listed with ``deltalake`` — open-source Spark has no
    Delta reader without the delta-spark jars."""
    path = source.path or ""
    if not local:
        reader = spark.read.format("delta")
        if source.version is not None:
            reader = reader.option("versionAsOf", int(source.version))
        return reader.load(path)
    dt = open_delta_table(path, source.version)
    features = set(getattr(dt.protocol(), "reader_features", None) or ())
    if features & {"deletionVectors", "columnMapping"}:
        raise BadInput(
            f"Delta table {Path(path).name} uses {', '.join(sorted(features))}: "
            "read it through a Spark server with Delta Lake (a catalog table)"
        )
    files = dt.file_uris()
    if not files:
        raise BadInput(f"Delta table {Path(path).name} has no data files")
    return spark.read.option("basePath", str(Path(path).resolve())).parquet(*files)
