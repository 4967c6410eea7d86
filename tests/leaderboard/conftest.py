"""Fixtures of the runs/leaderboard tests: a real ``mlflow server`` holding runs the tests log.

``lb_server`` is the session fixture ``mlflow_server`` of tests/conftest.py (127.0.0.1).
``server_runs``/``sqlite_runs`` log ``tests.support.runs.log_nested_runs`` through that server or
into a SQLite store.
"""

from __future__ import annotations

import pytest

from tests.support.runs import Logged, log_nested_runs


@pytest.fixture(scope="session")
def lb_server(mlflow_server):
    """URI of the real ``mlflow server`` started by tests/conftest.py."""
    return mlflow_server


@pytest.fixture(scope="session")
def server_runs(lb_server) -> Logged:
    return log_nested_runs(lb_server)


@pytest.fixture(scope="session")
def sqlite_runs(tmp_path_factory) -> Logged:
    root = tmp_path_factory.mktemp("lb-sqlite")
    return log_nested_runs(
        f"sqlite:///{(root / 'mlflow.db').as_posix()}", artifact_location=(root / "artifacts").as_uri()
    )


@pytest.fixture(scope="session")
def server_client(lb_server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=lb_server, registry_uri=lb_server)


@pytest.fixture(scope="session")
def sqlite_client(sqlite_runs):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=sqlite_runs.tracking_uri, registry_uri=sqlite_runs.tracking_uri)
