"""Fixtures of the drift tests: frame pairs written as real files, the local Spark session and a
scoring log table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


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


@pytest.fixture(scope="session")
def scoring_log(spark_session, tmp_path_factory):
    """A scoring log folder of Parquet (6,000 events every 20 minutes from 2026-03-01; ``amount``
    shifts half-way, 3 % of it missing) that is also the Spark catalog table ``tests.support.drift_data.SCORING_TABLE``."""
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
