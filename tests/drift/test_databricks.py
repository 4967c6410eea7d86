"""The Databricks SQL path: a PEP 249 connection whose cursor checks every statement the warehouse
would get (parameterized, valid Databricks SQL, back-quoted identifiers) and then executes that
very statement with its parameters on Apache Spark (the test session's local Spark session) — so
the statements are proven to run, and the report must equal the DuckDB engine's. Plus a real
integration test when DATABRICKS_* is set."""

from __future__ import annotations

import os
import re
from datetime import date, datetime

import pytest
import sqlglot
from sqlglot import exp

from services.drift.engine import drift_report
from services.errors import BadInput
from services.warehouse.sources import Source, Window
from services.warehouse.spark import _arg
from tests.support.drift_data import SCORING_TABLE


def check_statement(operation, parameters) -> None:
    """What the warehouse must receive: named parameters only, valid Databricks SQL, values never
    inlined, identifiers back-quoted."""
    assert isinstance(parameters, dict), "statements must use named parameters"
    tree = sqlglot.parse_one(operation, read="databricks")  # valid Databricks SQL
    assert isinstance(tree, (exp.Select, exp.Union))
    placeholders = {p.name for p in tree.find_all(exp.Placeholder)}
    assert placeholders == set(parameters), (placeholders, parameters)
    for value in parameters.values():  # values travel as parameters, never inlined
        if isinstance(value, (datetime, date)):
            assert value.isoformat()[:10] not in operation
    assert '"' not in re.sub(r"'[^']*'", "", operation), "identifiers must be back-quoted"


class SparkCursor:
    """databricks-sql-connector's cursor surface (execute with native named parameters,
    description with type names, fetchall), answered by Spark."""

    def __init__(self, conn):
        self.conn, self.description, self._rows = conn, None, []

    def execute(self, operation, parameters=None):
        check_statement(operation, parameters)
        self.conn.statements.append((operation, dict(parameters)))
        df = self.conn.spark.sql(operation, args={k: _arg(v) for k, v in parameters.items()})
        self.description = [(f.name, f.dataType.simpleString(), None, None, None, None, None) for f in df.schema.fields]
        self._rows = [tuple(r) for r in df.collect()]

    def fetchall(self):
        return self._rows

    def close(self):
        pass


class SparkConnection:
    def __init__(self, spark):
        self.spark, self.statements, self.closed = spark, [], False

    def cursor(self):
        return SparkCursor(self)

    def close(self):
        self.closed = True


def test_databricks_path_is_parameterized_valid_and_matches_duckdb(spark_session, scoring_log):
    path = scoring_log / "part-0.parquet"
    conns = []

    def factory(**kwargs):
        assert set(kwargs) == {"server_hostname", "http_path", "access_token"}
        conns.append(SparkConnection(spark_session))
        return conns[-1]

    from services.config import load_settings

    settings = load_settings(
        env={
            "DRIFTGATE_HOME": str(path.parent / "home"),
            "DATABRICKS_HOST": "https://adb-1.azuredatabricks.net",
            "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/x",
            "DATABRICKS_TOKEN": "dapi-secret",
        }
    )
    assert settings.databricks.configured
    ref_w = Window("event_time", start=date(2026, 3, 1), end=date(2026, 3, 20))
    cur_w = Window("event_time", days=7)
    remote = drift_report(
        Source("databricks", table=SCORING_TABLE),
        Source("databricks", table=SCORING_TABLE),
        engine="duckdb",
        reference_window=ref_w,
        current_window=cur_w,
        settings=settings,
        columns=["amount", "calls", "plan"],
        connection_factory=factory,
    )
    local = drift_report(
        Source("parquet", str(path)),
        Source("parquet", str(path)),
        engine="duckdb",
        reference_window=ref_w,
        current_window=cur_w,
        columns=["amount", "calls", "plan"],
    )
    assert all(c.closed for c in conns) and conns
    statements = [s for c in conns for s, _ in c.statements]
    assert any("PERCENTILE_DISC(ARRAY(" in s for s in statements)
    assert any(":w_start" in s for s in statements) and any("COUNT_IF(`v0` <= :e0_0)" in s for s in statements)
    assert remote["engine"] == "databricks" and remote["reference"]["rows"] == local["reference"]["rows"] > 0
    for r, loc in zip(remote["features"], local["features"]):
        assert r["feature"] == loc["feature"] and r["drifted"] == loc["drifted"]
        for test, v in loc["stats"].items():
            # binned statistics are exact on both; KS/Wasserstein sketches differ per engine
            # (Databricks: discrete-quantile grids; DuckDB: counts at the reference's points)
            tol = {"ks": 0.01, "wasserstein": 0.02}.get(test, 1e-9)
            assert r["stats"][test]["statistic"] == pytest.approx(v["statistic"], abs=tol), test
    assert [f["feature"] for f in remote["features"] if f["drifted"]] == ["amount"]
    assert "dapi-secret" not in repr(remote)


def test_table_names_are_validated():
    with pytest.raises(BadInput):
        drift_report(
            Source("databricks", table="a.b.c; DROP TABLE x"),
            Source("databricks", table="a.b"),
            connection_factory=lambda **k: SparkConnection(None),
        )


@pytest.mark.skipif(
    not all(os.environ.get(k) for k in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_HTTP_PATH")),
    reason="needs DATABRICKS_HOST, DATABRICKS_TOKEN and DATABRICKS_HTTP_PATH",
)
def test_databricks_integration():
    from services.config import load_settings

    settings = load_settings()
    table = os.environ.get("DRIFTGATE_TEST_DATABRICKS_TABLE", "samples.nyctaxi.trips")
    ts = os.environ.get("DRIFTGATE_TEST_DATABRICKS_TIMESTAMP", "tpep_pickup_datetime")
    src = Source("databricks", table=table)
    rep = drift_report(
        src,
        src,
        engine="duckdb",
        settings=settings,
        columns=os.environ.get("DRIFTGATE_TEST_DATABRICKS_COLUMNS", "trip_distance,fare_amount").split(","),
        reference_window=Window(ts, start=date(2016, 1, 1), end=date(2016, 1, 14)),
        current_window=Window(ts, start=date(2016, 2, 1), end=date(2016, 2, 14)),
    )
    assert rep["reference"]["rows"] > 0 and rep["current"]["rows"] > 0
    assert all(f["statistic"] is not None for f in rep["features"])


@pytest.mark.parametrize("dialect", ["duckdb", "databricks"])
@pytest.mark.parametrize("only_bins", [False, True])
def test_cached_statements_bind_the_builders_parameters(dialect, only_bins):
    """numeric_query renders once per shape and rebuilds the parameters: they must be exactly the
    ones the builder binds, for every mix of edges, deciles, points and window bounds — and a
    second call with other values must reuse the text but bind the new values."""
    from services.drift.numeric_sql import build_numeric_query, numeric_query
    from services.drift.sql import NumericSpec, Scope
    from services.warehouse.sql import table_expression

    table = table_expression("cat.sch.events")
    start, end = datetime(2026, 1, 1), datetime(2026, 2, 1)
    for values in ((0.5, 1.5, 2.5), (-3.0, 0.0, 7.25)):
        specs = [
            NumericSpec("a b", edges=values, deciles=not only_bins),
            NumericSpec(
                'q"uote',
                edges=values[:2],
                points=(values[0] - 1, values[0], values[2] + 1) if dialect == "duckdb" else None,
            ),
            NumericSpec("c", deciles=True),
        ]
        for bounds in ((start, end), (None, end), (None, None)):
            scope: Scope = {"ts": "ts", "start": bounds[0], "end": bounds[1]}
            sql, params = numeric_query(table, dialect, specs, only_bins=only_bins, **scope)
            ref_sql, ref_params = build_numeric_query(table, dialect, specs, scope, only_bins=only_bins)
            assert sql == ref_sql and params == ref_params
