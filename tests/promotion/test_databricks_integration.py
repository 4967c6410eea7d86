"""Read-only integration against a real Databricks workspace registry: runs only when
DATABRICKS_HOST, DATABRICKS_TOKEN and DRIFTGATE_TEST_MODEL (a registered model name) are set."""

from __future__ import annotations

import os

import pytest

from services.config import load_settings
from services.promotion.gate import evaluate
from services.registry.lifecycle import list_versions
from services.registry.mlflow_client import make_client

pytestmark = [
    pytest.mark.databricks,
    pytest.mark.skipif(
        not (
            os.environ.get("DATABRICKS_HOST")
            and os.environ.get("DATABRICKS_TOKEN")
            and os.environ.get("DRIFTGATE_TEST_MODEL")
        ),
        reason="needs DATABRICKS_HOST, DATABRICKS_TOKEN and DRIFTGATE_TEST_MODEL",
    ),
]


@pytest.mark.parametrize("registry,lifecycle", [("databricks", "stages"), ("databricks-uc", "aliases")])
def test_versions_and_gate_read_only(tmp_path, registry, lifecycle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[mlflow]\ntracking_uri = "databricks"\nregistry_uri = "{registry}"\nlifecycle = "{lifecycle}"\n')
    settings = load_settings(env={**os.environ, "DRIFTGATE_HOME": str(tmp_path)}, config_file=cfg)
    client = make_client(settings)
    doc = list_versions(settings, client, os.environ["DRIFTGATE_TEST_MODEL"])
    assert all(isinstance(v["version"], str) for v in doc["versions"])
    if doc["versions"]:
        res = evaluate(settings, client, doc["model"], doc["versions"][-1]["version"])
        assert {c.name for c in res.checks} >= {"candidate_state", "signature_compatible"}
