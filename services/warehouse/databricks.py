"""A Databricks SQL warehouse (Unity Catalog / Hive tables) through databricks-sql-connector's
PEP 249 connection and its native named parameters (``:name``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

from services.errors import NotFound, Unavailable
from services.warehouse.base import Params, Rows, Source, Warehouse
from services.warehouse.sql import DATABRICKS, schema_query, table_expression

if TYPE_CHECKING:
    import pandas as pd

    from services.config import Settings

# Spark SQL's numeric type names (what the connector's cursor description and Spark schemas say)
NUMERIC_TYPES = (
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
Connect = Callable[..., Any]  # databricks.sql.connect or a test's stand-in


class DatabricksWarehouse(Warehouse):
    """Statements rendered in the Databricks dialect, run one at a time on a PEP 249 cursor."""

    sql = DATABRICKS
    numeric_types: ClassVar[tuple[str, ...]] = NUMERIC_TYPES

    def execute(self, statement: str, params: Params) -> Rows:
        cur = self.conn.cursor()
        try:
            cur.execute(statement, parameters=params)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def fetch_frame(self, statement: str, params: Params) -> pd.DataFrame:
        # lazy: pandas costs ~1.5 s at start (load 14) and only this rare path needs it here
        import pandas as pd

        cur = self.conn.cursor()
        try:
            cur.execute(statement, parameters=params)
            names = [d[0] for d in cur.description or []]
            return pd.DataFrame([tuple(r) for r in cur.fetchall()], columns=names)
        finally:
            cur.close()

    def read_schema(self) -> dict[str, str]:
        """The table's columns from a cursor description (``SELECT * ... LIMIT 0``)."""
        cur = self.conn.cursor()
        try:
            cur.execute(schema_query(self.table, self.dialect), parameters={})
            desc = cur.description or []
            cur.fetchall()
        except Exception as exc:
            raise NotFound(f"cannot read table {self.table.sql('databricks')} ({type(exc).__name__})") from None
        finally:
            cur.close()
        # PEP 249 description: (name, type_code, ...); the connector's type codes are names like "double".
        return {d[0]: str(d[1]).upper() for d in desc}


@contextmanager
def open_databricks(
    source: Source, settings: Settings | None = None, connection_factory: Connect | None = None
) -> Iterator[DatabricksWarehouse]:
    """``source.table`` on the configured warehouse (``connection_factory``, tests: replaces
    ``databricks.sql.connect``); the connection is closed on exit."""
    conn = _connect(settings, connection_factory)
    try:
        warehouse = DatabricksWarehouse(conn, table_expression(source.table or ""))
        warehouse.columns = warehouse.read_schema()
        yield warehouse
    finally:
        with suppress(Exception):
            conn.close()


def _connect(settings: Settings | None, factory: Connect | None) -> Any:
    db = getattr(settings, "databricks", None)
    if factory is None:
        if settings is None or db is None or not db.configured or not db.token:
            raise Unavailable("Databricks is not configured (DATABRICKS_HOST, DATABRICKS_HTTP_PATH, DATABRICKS_TOKEN)")
        # lazy: the connector (and its thrift / pyarrow stack) only loads when a warehouse is used
        from databricks import sql as dbsql

        factory = dbsql.connect
        timeout = float(settings.section("databricks")["timeout_seconds"])
        # Bounded connect + per-request time and retry budget (the connector's defaults retry
        # a dead host for 15 minutes): ``[databricks] timeout_seconds``.
        limits: dict[str, float | int] = {
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
