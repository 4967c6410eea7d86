"""The spark engine: the Databricks-dialect statements executed by a local Spark session (one per
test session) give the DuckDB engine's report within the spec's tolerances, with the same
decisions — on files (Parquet, CSV, Delta) and on a catalog table by name, for a one-off report
and for a configured model (the app's and the trigger's path)."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from services.config import load_settings
from services.drift import drift_over_time, model_drift_report
from services.drift.engine import drift_report
from services.errors import BadInput
from services.warehouse.sources import Source, Window, source_from_path
from tests.support.drift_data import HOSTILE, assert_within_spec_tolerance, hard_columns


def _by_name(report):
    return {f["feature"]: f for f in report["features"]}


def _same_decisions(spark, duck):
    assert spark["engine"] == "spark" and spark["approximate"] is True
    assert [f["feature"] for f in spark["features"]] == [f["feature"] for f in duck["features"]]
    assert [f["drifted"] for f in spark["features"]] == [f["drifted"] for f in duck["features"]]
    assert spark["dataset"] == duck["dataset"]
    assert (
        spark["reference"]["rows"] == duck["reference"]["rows"] and spark["current"]["rows"] == duck["current"]["rows"]
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_spark_equals_duckdb_on_hard_columns(spark_session, tmp_path, fmt):
    ref, cur = hard_columns(3000, 11, drift=False), hard_columns(2000, 12, drift=True)
    paths = []
    for name, df in (("ref", ref), ("cur", cur)):
        p = tmp_path / f"{name}.{fmt}"
        df.to_parquet(p, index=False) if fmt == "parquet" else df.to_csv(p, index=False)
        paths.append(str(p))
    src = [source_from_path(p) for p in paths]
    spark = drift_report(*src, engine="spark")
    duck = drift_report(*src, engine="duckdb")
    memory = drift_report(*src, engine="memory")
    _same_decisions(spark, duck)
    assert_within_spec_tolerance(memory, spark)  # exact deciles: binned stats and summaries equal
    assert_within_spec_tolerance(duck, spark)
    feats = _by_name(spark)
    assert list(feats) == ["skewed", *HOSTILE]
    assert [n for n, f in feats.items() if f["drifted"]] == ["skewed", 'x"y']
    assert feats['x"y']["summary"]["current"]["unseen_categories"] == ["new"]
    assert feats["a b"]["summary"]["reference"]["missing_share"] == pytest.approx(float(ref["a b"].isna().mean()))
    assert feats["back`tick"]["kind"] == "categorical" and feats["a:b"]["kind"] == "numeric"


def test_spark_reads_delta_at_a_version(spark_session, tmp_path):
    from deltalake import write_deltalake

    plain = {"a b": "gappy", 'x"y': "cat", "back`tick": "plan", "a:b": "calls"}  # Delta forbids " ,;{}()=" in names
    ref, cur = (
        hard_columns(1500, 21, drift=False).rename(columns=plain),
        hard_columns(1200, 22, drift=True).rename(columns=plain),
    )
    table = tmp_path / "delta"
    write_deltalake(str(table), ref)  # version 0: the reference
    write_deltalake(str(table), cur, mode="overwrite")  # version 1: the current data
    v0 = Source("delta", path=str(table), version=0)
    v1 = Source("delta", path=str(table))
    spark = drift_report(v0, v1, engine="spark")
    duck = drift_report(v0, v1, engine="duckdb")
    _same_decisions(spark, duck)
    assert_within_spec_tolerance(duck, spark)
    assert spark["reference"]["rows"] == 1500 and spark["current"]["rows"] == 1200
    assert [f["feature"] for f in spark["features"] if f["drifted"]] == ["skewed", "cat"]


def test_spark_table_by_name_with_windows(scoring_log):
    ref_w = Window("event_time", start=date(2026, 3, 1), end=date(2026, 3, 20))
    cur_w = Window("event_time", days=7)

    def report(source: Source, engine: str) -> dict:
        columns = ["amount", "calls", "plan"]
        return drift_report(
            source, source, engine=engine, reference_window=ref_w, current_window=cur_w, columns=columns
        )

    spark = report(Source("spark", table="spark_catalog.ml.scoring_log"), "spark")
    duck = report(Source("parquet", path=str(scoring_log / "part-0.parquet")), "duckdb")
    _same_decisions(spark, duck)
    assert_within_spec_tolerance(duck, spark)
    ts = pd.read_parquet(scoring_log / "part-0.parquet")["event_time"]
    last = ts.max().normalize()
    assert spark["reference"]["rows"] == 20 * 72  # 72 events a day
    assert spark["current"]["rows"] == int((ts >= last - pd.Timedelta(days=6)).sum()) > 6 * 72
    assert [f["feature"] for f in spark["features"] if f["drifted"]] == ["amount"]


def test_configured_spark_source_for_the_app_and_trigger(scoring_log, tmp_path):
    """[sources.x] type = "spark" (table by name) behind a model: the model report and the
    per-window drift equal those of the same data as a Parquet source."""
    reports = {}
    for kind, source in (
        ("spark", 'type = "spark"\ntable = "spark_catalog.ml.scoring_log"'),
        ("parquet", f'type = "parquet"\npath = {json.dumps(str(scoring_log))}'),
    ):
        cfg = tmp_path / f"{kind}.toml"
        cfg.write_text(
            f'[sources.log]\n{source}\n\n[models.churn]\nsource = "log"\ntimestamp = "event_time"\n'
            'features = ["amount", "calls", "plan"]\ncategorical = ["plan"]\n'
            "reference_window = {start = 2026-03-01, end = 2026-03-14}\n"
        )
        settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / kind), "DRIFTGATE_CONFIG": str(cfg)})
        current = Window("event_time", start=date(2026, 4, 15), end=date(2026, 4, 24))
        # full scans (use_store=False): DuckDB's stored day profiles interpolate a combined median
        reports[kind] = (
            model_drift_report(settings, "churn", current=current, use_store=False),
            drift_over_time(settings, "churn", unit="week", start=date(2026, 3, 15), end=date(2026, 5, 10)),
            model_drift_report(settings, "churn", current=current),
        )
    (spark, spark_windows, spark_stored), (duck, duck_windows, _) = reports["spark"], reports["parquet"]
    assert spark["engine"] == "spark" and duck["engine"] == "duckdb"
    assert [f["drifted"] for f in spark_stored["features"]] == [f["drifted"] for f in duck["features"]]
    assert [f["drifted"] for f in spark["features"]] == [f["drifted"] for f in duck["features"]]
    assert_within_spec_tolerance(duck, spark)
    assert [f["feature"] for f in spark["features"] if f["drifted"]] == ["amount"]
    assert len(spark_windows["windows"]) == len(duck_windows["windows"]) >= 3
    for s, d in zip(spark_windows["windows"], duck_windows["windows"]):
        assert (s["start"], s["rows"], s["drifted_features"], s["drifted"]) == (
            d["start"],
            d["rows"],
            d["drifted_features"],
            d["drifted"],
        )


def test_spark_source_errors_are_one_line(spark_session, tmp_path):
    with pytest.raises(BadInput, match="cannot read Spark table 'ml.no_such_table'"):
        drift_report(
            Source("spark", table="ml.no_such_table"), Source("spark", table="ml.no_such_table"), engine="spark"
        )
    with pytest.raises(BadInput, match="invalid table name"):
        drift_report(Source("spark", table="a.b"), Source("spark", table="a.b; DROP TABLE x"), engine="spark")
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")  # a row with one field too many
    with pytest.raises(BadInput, match="Malformed CSV record"):
        drift_report(source_from_path(str(bad)), source_from_path(str(bad)), engine="spark")
    with pytest.raises(BadInput, match="no such file"):
        drift_report(
            Source("spark", path=str(tmp_path / "gone.parquet"), format="parquet"),
            Source("spark", path=str(tmp_path / "gone.parquet"), format="parquet"),
            engine="spark",
        )


def test_spark_sources_from_the_config(tmp_path):
    """[sources.x] type = "spark": a table by name, or a path whose format is given or sniffed;
    not both, not neither (no Spark needed to resolve them)."""
    from services.warehouse.sources import source_from_settings

    data = tmp_path / "data"
    data.mkdir()
    hard_columns(10, 1, drift=False).to_parquet(data / "part-0.parquet", index=False)
    cfg = tmp_path / "driftgate.toml"
    cfg.write_text(
        '[sources.t]\ntype = "spark"\ntable = "main.ml.log"\n'
        '[sources.p]\ntype = "spark"\npath = "data"\n'
        '[sources.c]\ntype = "spark"\npath = "s3://bucket/log.csv"\n'
        '[sources.d]\ntype = "spark"\npath = "abfss://c@acct.dfs.core.windows.net/log"\nformat = "delta"\n'
        '[sources.both]\ntype = "spark"\ntable = "a.b"\npath = "data"\n'
        '[sources.none]\ntype = "spark"\n'
    )
    settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home"), "DRIFTGATE_CONFIG": str(cfg)})
    assert source_from_settings(settings, "t") == Source("spark", table="main.ml.log", label="t")
    p = source_from_settings(settings, "p")
    assert (p.type, p.format, p.path) == ("spark", "parquet", str(data))  # relative to the config file
    c = source_from_settings(settings, "c")
    assert (c.format, c.path) == ("csv", "s3://bucket/log.csv")  # a URI is the server's business
    assert source_from_settings(settings, "d").format == "delta"
    for name in ("both", "none"):
        with pytest.raises(BadInput, match="either 'table' or 'path'"):
            source_from_settings(settings, name)
