"""Helpers for the drift tests: synthetic frames written as real files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def synthetic(n: int, seed: int, shift: float = 0.0, mix: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = rng.choice(["a", "b", "c"], n, p=[0.5 - mix, 0.3, 0.2 + mix])
    with_missing = rng.normal(10.0, 2.0, n)
    with_missing[rng.random(n) < 0.05] = np.nan
    region = rng.choice(["n", "s", "e"], n).astype(object)
    region[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "count": rng.poisson(2.0, n).astype("int64"),
            "gappy": with_missing,
            "cat": cats,
            "region": region,
        }
    )


@pytest.fixture
def write_pair(tmp_path):
    """write_pair(ref_df, cur_df, fmt) -> (ref_path, cur_path) as CSV or Parquet files."""

    def write(ref: pd.DataFrame, cur: pd.DataFrame, fmt: str = "parquet"):
        paths = []
        for name, df in (("ref", ref), ("cur", cur)):
            p = tmp_path / f"{name}.{fmt}"
            if fmt == "csv":
                df.to_csv(p, index=False)
            else:
                df.to_parquet(p, index=False)
            paths.append(p)
        return paths

    return write


def assert_within_spec_tolerance(memory_report: dict, duckdb_report: dict) -> None:
    """The spec's engine agreement on approximated reports: same decisions, KS within 0.01,
    Wasserstein within 0.02, binned statistics and summaries equal up to float error."""
    duck = {f["feature"]: f for f in duckdb_report["features"]}
    for fm in memory_report["features"]:
        name, fd = fm["feature"], duck[fm["feature"]]
        assert fd["drifted"] == fm["drifted"], name
        if fm["kind"] == "numeric":
            assert fd["stats"]["ks"]["statistic"] == pytest.approx(fm["stats"]["ks"]["statistic"], abs=0.01), name
            assert fd["stats"]["wasserstein"]["statistic"] == pytest.approx(
                fm["stats"]["wasserstein"]["statistic"], abs=0.02
            ), name
        for test in ("psi", "jensenshannon"):  # same bins: equal up to float error
            assert fd["stats"][test]["statistic"] == pytest.approx(fm["stats"][test]["statistic"], rel=1e-9, abs=1e-12)
        for side in ("reference", "current"):
            for key, value in fm["summary"][side].items():
                assert fd["summary"][side][key] == (
                    pytest.approx(value, rel=1e-9) if isinstance(value, float) else value
                ), (name, side, key)


# -- Apache Spark ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def spark_session():
    """The one local Spark session of the test session (a JVM; seconds to start), the same one
    the spark engine uses (services.warehouse.spark caches it per process). Starting it writes nothing to
    this process's stderr (file descriptor 2, which the JVM inherits): the CLI's stderr must stay
    empty on success, so the JVM's console (log4j, JVM notices) goes to a log file."""
    import os
    import tempfile

    from services.warehouse import spark

    with tempfile.TemporaryFile() as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            session = spark.session(None)
            session.sql("SELECT 1").collect()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        noise = err.read()
    assert noise == b"", noise[:500]
    assert spark.log_path().stat().st_size > 0  # ... and went to the log instead
    yield session
    spark.stop_sessions()


HOSTILE = ("a:b", "a b", 'x"y', "back`tick")  # column order of hard_columns


def hard_columns(n: int, seed: int, drift: bool) -> pd.DataFrame:
    """Columns engines get wrong first: right-skewed, heavily tied, missing-heavy, string
    categoricals (with an unseen category when ``drift``) — under hostile names. With ``drift``,
    exactly ``skewed`` and ``x"y`` move."""
    rng = np.random.default_rng(seed)
    missing = rng.normal(5.0, 1.0, n)
    missing[rng.random(n) < 0.6] = np.nan
    if drift:
        cats = rng.choice(["low", "mid", "high", "new"], n, p=[0.25, 0.25, 0.3, 0.2])
    else:
        cats = rng.choice(["low", "mid", "high"], n, p=[0.45, 0.35, 0.2])
    plan = rng.choice(["basic", "pro"], n).astype(object)
    plan[rng.random(n) < 0.1] = None
    return pd.DataFrame(
        {
            "skewed": rng.lognormal(0.6 if drift else 0.0, 1.2, n),
            "a:b": rng.poisson(1.0, n).astype("int64"),  # tied: a handful of distinct values
            "a b": missing,  # 60 % missing (NaN)
            'x"y': cats,
            "back`tick": plan,
        }
    )


SCORING_TABLE = "spark_catalog.ml.scoring_log"


@pytest.fixture(scope="session")
def scoring_log(spark_session, tmp_path_factory):
    """A scoring log folder of Parquet (6,000 events every 20 minutes from 2026-03-01; ``amount``
    shifts half-way, 3 % of it missing) that is also the Spark catalog table ``SCORING_TABLE``."""
    from datetime import datetime, timedelta

    rng = np.random.default_rng(7)
    n = 6000
    start = datetime(2026, 3, 1)
    df = pd.DataFrame(
        {
            "event_time": pd.to_datetime([start + timedelta(minutes=20 * i) for i in range(n)], utc=True),
            "amount": np.r_[rng.normal(50, 10, n // 2), rng.normal(58, 10, n // 2)],
            "calls": rng.poisson(2, n).astype("int64"),
            "plan": rng.choice(["a", "b", "c"], n),
        }
    )
    df.loc[rng.random(n) < 0.03, "amount"] = np.nan
    folder = tmp_path_factory.mktemp("scoring") / "log"
    folder.mkdir()
    df.to_parquet(folder / "part-0.parquet", index=False)
    spark_session.sql("CREATE DATABASE IF NOT EXISTS ml")
    spark_session.catalog.createTable("ml.scoring_log", path=str(folder), source="parquet")
    yield folder
    spark_session.sql("DROP TABLE IF EXISTS ml.scoring_log")
