"""Both lifecycles against a real ``mlflow server`` over REST (versions come back as str there)."""

from __future__ import annotations

import uuid

import pytest

from services.config import load_settings
from services.errors import Refused
from services.promotion import audit
from services.promotion.approvals import approve, rollback
from services.promotion.gate import evaluate
from services.registry.lifecycle import list_versions, make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support import minidemo


@pytest.fixture(scope="module")
def rest_model(mlflow_server, tmp_path_factory):
    name = f"promo_rest_{uuid.uuid4().hex[:8]}"
    minidemo.build(tmp_path_factory.mktemp("rest-artifacts"), tracking_uri=mlflow_server, model=name)
    return mlflow_server, name


@pytest.mark.parametrize("lifecycle", ["aliases", "stages"])
def test_over_rest(rest_model, tmp_path, lifecycle):
    uri, name = rest_model
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[mlflow]\ntracking_uri = "{uri}"\nlifecycle = "{lifecycle}"\n'
        '[roles]\napprovers = ["alice", "bob"]\n[gate]\nguard_metrics = {brier = 0.01}\n'
    )
    settings = load_settings(env={"DRIFTGATE_HOME": str(tmp_path / "home")}, config_file=cfg)
    client = make_client(settings)
    assert isinstance(client.get_model_version(name, "1").version, str)  # REST: strings
    doc = list_versions(settings, client, name)
    assert [(v["version"], v["state"]) for v in doc["versions"]] == [
        ("1", "champion"),
        ("2", "candidate"),
        ("3", "candidate"),
    ]
    g2, g3 = evaluate(settings, client, name, "2"), evaluate(settings, client, name, "3")
    assert g2.passed, [(c.name, c.detail) for c in g2.checks if c.status == "fail"]
    assert not g3.passed and {c.name for c in g3.blocking} >= {"beats_champion", "signature_compatible"}
    with pytest.raises(Refused, match="four-eyes"):
        approve(settings, name, 2, "bob", client=client)
    approve(settings, name, 2, "alice", client=client)
    lc = make_lifecycle(settings, client, name)
    assert lc.state().champion == "2" and lc.champion_count() == 1
    rollback(settings, name, "alice", "back", client=client)
    assert lc.state().champion == "1" and lc.champion_count() == 1
    # leave the shared server as we found it for the next parametrisation
    lc.restore(
        {
            "mode": lc.mode,
            "aliases": {"champion": "1"},
            "model_tags": {},
            "versions": {v: {"stage": "Production" if v == "1" else "None", "tags": {}} for v in ("1", "2", "3")},
        }
    )
    assert [r["outcome"] for r in audit.query(settings, model=name)] == ["refused", "done", "done"]
