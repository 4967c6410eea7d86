"""The warehouse interface: every adapter renders the same sqlglot tree in its own dialect, binds
values as named parameters (never inlined in the statement text), and reads windows of rows.

DuckDB runs for real; Databricks SQL and Spark are driven through stand-ins at their connector
boundary (a PEP 249 connection, a ``spark.sql(statement, args=...)`` session) that record what
the engine would receive."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from services.errors import BadInput, Unavailable
from services.warehouse.base import ROW_TIME, Source, Warehouse, Window
from services.warehouse.databricks import DatabricksWarehouse, open_databricks
from services.warehouse.duckdb import DuckDBWarehouse, on_view
from services.warehouse.spark import SparkWarehouse, identifier_table
from services.warehouse.sql import column, param, table_expression

HOSTILE = "x'); DROP TABLE t; --"


class RecordingCursor:
    """databricks-sql-connector's cursor surface; answers every statement with ``rows``."""

    def __init__(self, conn: RecordingConnection) -> None:
        self.conn = conn
        self.description: list[tuple[Any, ...]] | None = None

    def execute(self, operation: str, parameters: dict | None = None) -> None:
        self.conn.statements.append((operation, dict(parameters or {})))
        self.description = [(name, kind, None, None, None, None, None) for name, kind in self.conn.schema]

    def fetchall(self) -> list[tuple]:
        return list(self.conn.rows)

    def close(self) -> None:
        pass


class RecordingConnection:
    def __init__(self, schema=(("ts", "timestamp"), ("x", "double")), rows=()) -> None:
        self.schema, self.rows, self.closed = list(schema), list(rows), False
        self.statements: list[tuple[str, dict[str, Any]]] = []

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self)

    def close(self) -> None:
        self.closed = True


class RecordingSpark:
    """``spark.sql(statement, args=...)`` returning a frame whose ``collect()`` is ``rows``."""

    def __init__(self, rows=()) -> None:
        self.rows = list(rows)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def sql(self, statement: str, args: dict):
        self.calls.append((statement, dict(args)))
        rows = self.rows

        class Frame:
            def collect(self):
                return rows

        return Frame()


def adapters() -> dict[str, Warehouse]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (ts TIMESTAMP, x DOUBLE)")
    table = table_expression("t")
    return {
        "duckdb": DuckDBWarehouse(con, table, {"ts": "TIMESTAMP", "x": "DOUBLE"}),
        "databricks": DatabricksWarehouse(RecordingConnection(), table_expression("cat.sch.t")),
        "spark": SparkWarehouse(RecordingSpark(), identifier_table(), {}, bound={"table": "cat.sch.t"}),
    }


def the_expression(warehouse: Warehouse) -> exp.Expr:
    """The same question for every engine: the median of x among rows after :start."""
    value = column("x")
    return (
        exp.select(exp.alias_(warehouse.quantiles(value, [0.5], discrete=False), "median", quoted=True))
        .from_(warehouse.table.copy())
        .where(exp.GTE(this=column("ts"), expression=param("start")))
    )


def test_each_adapter_renders_the_same_expression_in_its_dialect():
    rendered = {name: w.render(the_expression(w)) for name, w in adapters().items()}
    assert rendered["duckdb"] == 'SELECT QUANTILE_CONT("x", [0.5]) AS "median" FROM "t" WHERE "ts" >= $start'
    assert rendered["databricks"] == (
        "SELECT PERCENTILE(`x`, ARRAY(0.5)) AS `median` FROM `cat`.`sch`.`t` WHERE `ts` >= :start"
    )
    assert rendered["spark"] == (
        "SELECT PERCENTILE(`x`, ARRAY(0.5)) AS `median` FROM IDENTIFIER(:table) WHERE `ts` >= :start"
    )
    for name, sql in rendered.items():  # each parses back in the dialect it is sent in
        dialect = "duckdb" if name == "duckdb" else "databricks"
        assert sqlglot.parse_one(sql, read=dialect).find(exp.Placeholder) is not None


def test_identifiers_are_quoted_so_a_hostile_column_name_stays_a_name():
    for w in adapters().values():
        sql = w.render(exp.select(column('a"b`c')).from_(w.table.copy()))
        tree = sqlglot.parse_one(sql, read=w.dialect)
        assert [c.name for c in tree.find_all(exp.Column)] == ['a"b`c']


@pytest.mark.parametrize("name", ["duckdb", "databricks", "spark"])
def test_parameters_are_bound_by_name_and_never_inlined(name):
    w = adapters()[name]
    sql = w.render(exp.select(exp.Count(this=exp.Star())).from_(w.table.copy()).where(column("x").eq(param("v"))))
    assert HOSTILE not in sql and "DROP" not in sql
    w.execute(sql, {"v": HOSTILE})
    if name == "databricks":
        assert w.conn.statements[-1] == (sql, {"v": HOSTILE})
    elif name == "spark":  # the table name travels as a parameter too
        assert w.conn.calls[-1] == (sql, {"v": HOSTILE, "table": "cat.sch.t"})


def test_duckdb_binds_a_hostile_value_as_data():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR)")
    con.execute("INSERT INTO t VALUES (?), ('other')", [HOSTILE])
    w = on_view(con, "t")
    sql = w.render(exp.select(exp.Count(this=exp.Star())).from_(w.table.copy()).where(column("name").eq(param("v"))))
    assert w.execute(sql, {"v": HOSTILE}) == [(1,)]
    assert w.execute("SELECT count(*) FROM t", {}) == [(2,)]  # nothing was dropped


def test_only_in_process_engines_hand_out_column_arrays():
    ws = adapters()
    arrays = ws["duckdb"].fetch_arrays("SELECT 1.5 AS a", {})
    assert list(arrays["a"]) == [1.5]
    for name in ("databricks", "spark"):
        assert not ws[name].in_process
        with pytest.raises(Unavailable, match="stay where they are"):
            ws[name].fetch_arrays("SELECT 1", {})


def test_the_engine_names_and_numeric_types():
    ws = adapters()
    assert {n: (w.engine, w.dialect, w.list_aggregates) for n, w in ws.items()} == {
        "duckdb": ("duckdb", "duckdb", True),
        "databricks": ("databricks", "databricks", False),
        "spark": ("spark", "databricks", False),
    }
    assert ws["duckdb"].is_numeric("x") and not ws["duckdb"].is_numeric("ts")
    assert ws["duckdb"].schema() == {"ts": "TIMESTAMP", "x": "DOUBLE"}


def test_a_databricks_table_is_described_from_the_cursor_and_closed_after():
    conn = RecordingConnection(schema=[("ts", "timestamp"), ("score", "double")])
    with open_databricks(Source("databricks", table="cat.sch.scores"), connection_factory=lambda **kw: conn) as w:
        assert w.schema() == {"ts": "TIMESTAMP", "score": "DOUBLE"} and w.is_numeric("score")
        assert conn.statements == [("SELECT * FROM `cat`.`sch`.`scores` LIMIT 0", {})]
    assert conn.closed


@pytest.fixture
def scoring() -> DuckDBWarehouse:
    """Ten days of scoring rows, one an hour; the label is missing on every fifth row."""
    frame = pd.DataFrame({"ts": pd.date_range("2026-03-01", periods=240, freq="h")})
    frame["f"] = range(240)
    frame["y"] = pd.array([None if i % 5 == 0 else i % 2 for i in range(240)], dtype="Int64")
    con = duckdb.connect()
    con.register("scores", frame)
    return on_view(con, "scores")


def test_read_window_returns_the_newest_labelled_rows_in_time_order(scoring):
    start, end = datetime(2026, 3, 2), datetime(2026, 3, 3)
    frame = scoring.read_window(["f", "y"], "ts", start, end, required=["y"], newest=5)
    assert list(frame.columns) == ["f", "y", ROW_TIME]
    # the day of 2 March is rows 24..47; labelled ones exclude 25, 30, 35, 40, 45; the newest five
    assert list(frame["f"]) == [42, 43, 44, 46, 47]
    assert frame[ROW_TIME].is_monotonic_increasing and frame["y"].notna().all()
    everything = scoring.read_window(["f"], "ts", start, end)
    assert list(everything["f"]) == list(range(24, 48))  # end is exclusive, no label needed


def test_newest_time_is_the_last_labelled_row_before_the_cut(scoring):
    cut = datetime(2026, 3, 5, 5)  # rows at 04:00 (f=100, unlabelled) and 03:00 (f=99) precede it
    assert scoring.newest_time("ts", before=cut, required=["y"]) == datetime(2026, 3, 5, 3)
    assert scoring.newest_time("ts", before=datetime(2026, 1, 1), required=["y"]) is None


def test_windows_resolve_to_half_open_timestamps(scoring):
    assert scoring.resolve_window(Window("ts", days=2)) == (datetime(2026, 3, 9), datetime(2026, 3, 11))
    assert scoring.resolve_window(Window("ts", start=date(2026, 3, 2), end=date(2026, 3, 2))) == (
        datetime(2026, 3, 2),
        datetime(2026, 3, 3),
    )
    with pytest.raises(BadInput, match="not in the data"):
        scoring.resolve_window(Window("when", days=1))


def test_a_warehouse_window_is_read_with_every_bound_as_a_parameter():
    conn = RecordingConnection(schema=[("f", "double"), (ROW_TIME, "timestamp")], rows=[(2.0, "b"), (1.0, "a")])
    w = DatabricksWarehouse(conn, table_expression("cat.sch.log"), {"ts": "TIMESTAMP", "f": "DOUBLE", "y": "INT"})
    start, end = datetime(2026, 3, 2), datetime(2026, 3, 3)
    frame = w.read_window(["f"], "ts", start, end, required=["y"], newest=2)
    assert frame.to_dict("list") == {"f": [1.0, 2.0], ROW_TIME: ["a", "b"]}  # newest first -> time order
    sql, params = conn.statements[-1]
    assert params == {"start": start, "end": end, "newest": 2}
    assert "2026" not in sql and sql.endswith("LIMIT :newest")
    assert "`y` IS NULL" in sql and "CAST(`ts` AS TIMESTAMP) >= :start" in sql
