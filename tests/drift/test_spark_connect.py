"""``python -m services.cli drift --engine spark`` as a user runs it: through a real Spark Connect
server (started here on a free 127.0.0.1 port, stopped by its PID) named by SPARK_REMOTE; the
verdicts are the DuckDB engine's. Without PySpark: one line saying how to install it. (The local
session's silence on stderr is checked where it starts, in the ``spark_session`` fixture.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.drift.engine import drift_report
from services.warehouse.sources import source_from_path
from tests.support.cli import run_cli
from tests.support.drift_data import assert_within_spec_tolerance, hard_columns
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(["drift", *args], env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Hard columns with hostile names: the reference as Parquet, the current as CSV."""
    folder = tmp_path_factory.mktemp("connect")
    ref, cur = folder / "ref.parquet", folder / "cur.csv"
    hard_columns(3000, 31, drift=False).to_parquet(ref, index=False)
    hard_columns(2000, 32, drift=True).to_csv(cur, index=False)
    duck = drift_report(source_from_path(str(ref)), source_from_path(str(cur)), engine="duckdb")
    return str(ref), str(cur), duck


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """``spark-submit --class SparkConnectServer`` from PySpark's own jars, gRPC and driver bound
    to 127.0.0.1; yields its sc:// URL. (spark-submit execs the JVM: the PID is the server's.)"""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    log_path = tmp_path_factory.mktemp("connect-server") / "server.log"
    cmd = [
        str(home / "bin" / "spark-submit"),
        "--class",
        CONNECT_SERVER,
        "--driver-memory",
        "1g",
        "--conf",
        "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        "spark.sql.shuffle.partitions=8",
        "spark-internal",
    ]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=log_path.parent)
    started = f"Spark Connect server started at: 127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while started not in log_path.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Spark Connect server did not start:\n" + log_path.read_text()[-2000:])
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _check(res: subprocess.CompletedProcess, duck: dict) -> dict:
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # spec: stderr stays empty on success (no JVM, log4j or pandas notice)
    spark = json.loads(res.stdout)
    assert spark["engine"] == "spark" and spark["approximate"] is True
    assert [f["drifted"] for f in spark["features"]] == [f["drifted"] for f in duck["features"]]
    assert spark["dataset"] == duck["dataset"]
    assert_within_spec_tolerance(duck, spark)
    assert [f["feature"] for f in spark["features"] if f["drifted"]] == ["skewed", 'x"y']
    return spark


def test_cli_through_spark_connect(connect_server, pair):
    ref, cur, duck = pair
    res = cli(
        "--reference",
        ref,
        "--current",
        cur,
        "--engine",
        "spark",
        "--format",
        "json",
        env={"SPARK_REMOTE": connect_server},
    )
    _check(res, duck)


@pytest.mark.cli
def test_without_pyspark_one_line_how_to_install(pair):
    ref, cur, _ = pair
    code = "import sys; sys.modules['pyspark'] = None\nfrom services.cli import main\nsys.exit(main(sys.argv[1:]))"
    res = subprocess.run(
        [sys.executable, "-c", code, "drift", "--reference", ref, "--current", cur, "--engine", "spark"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.splitlines() == ["error: the spark engine needs PySpark: pip install -r requirements-spark.txt"]


@pytest.mark.cli
def test_unreachable_spark_remote_is_one_line_without_its_token(pair):
    ref, cur, _ = pair
    port = free_port()  # nothing listens there
    res = cli(
        "--reference",
        ref,
        "--current",
        cur,
        "--engine",
        "spark",
        env={"SPARK_REMOTE": f"sc://127.0.0.1:{port}/;token=s3cr3t-token"},
    )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.splitlines() == [
        f"error: cannot reach the Spark Connect server sc://127.0.0.1:{port} (SparkConnectGrpcException)"
    ]
