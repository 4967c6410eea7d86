"""Fixtures of the runs/leaderboard tests: a real ``mlflow server`` holding runs the tests log.

``lb_server`` is the session fixture ``mlflow_server`` of tests/conftest.py (127.0.0.1).
``server_runs``/``sqlite_runs`` log ``tests.support.runs.log_nested_runs`` through that server or
into a SQLite store.
"""

from __future__ import annotations

import pytest

from tests.support.runs import Logged, log_nested_runs, logged_once
from tests.support.servers import run_tmp


@pytest.fixture(scope="session")
def lb_server(mlflow_server):
    """URI of the real ``mlflow server`` started by tests/conftest.py."""
    return mlflow_server


@pytest.fixture(scope="session")
def server_runs(lb_server) -> Logged:
    return log_nested_runs(lb_server)


@pytest.fixture(scope="session")
def sqlite_runs(tmp_path_factory, empty_mlflow_store) -> Logged:
    """One SQLite store for the whole test run: the xdist workers share it."""
    return logged_once(run_tmp(tmp_path_factory) / "lb-sqlite", empty_mlflow_store)


@pytest.fixture(scope="session")
def server_client(lb_server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=lb_server, registry_uri=lb_server)


@pytest.fixture(scope="session")
def sqlite_client(sqlite_runs):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=sqlite_runs.tracking_uri, registry_uri=sqlite_runs.tracking_uri)
