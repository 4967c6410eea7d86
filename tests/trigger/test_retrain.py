"""The retraining workflow on a private demo copy: a parent run tagged with the trigger reason,
candidates + the champion re-evaluated on the same rows, the winner registered as a candidate by
the selection rule — ranked by the leaderboard, evaluated by the gate, and never promoted."""

from __future__ import annotations

import json
import tempfile
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

from services.cli import main
from services.config import load_settings
from services.demo import seed as demo
from services.errors import BadInput, Refused
from services.registry.lifecycle import champion_version
from services.registry.mlflow_client import make_client
from services.retraining.retrain import RetrainPolicy, retrain

# Small and quick: two candidate kinds on 3 training days.
FAST = '[retrain]\ncandidates = ["gbm", "logreg"]\ntrain_days = 3\neval_days = 2\n'


@pytest.fixture
def fast_settings(demo_copy, tmp_path):
    cfg = tmp_path / "fast.toml"
    cfg.write_text(FAST)
    return load_settings(env={"DRIFTGATE_HOME": str(demo_copy.home)}, config_file=cfg), str(cfg)


def _stage_champion(client) -> list[str]:
    return [
        str(v.version)
        for v in client.search_model_versions(f"name='{demo.MODEL_NAME}'")
        if v.current_stage == "Production"
    ]


def test_retrain_end_to_end(fast_settings, capsys, monkeypatch):
    settings, cfg = fast_settings
    client = make_client(settings)
    before_alias = champion_version(settings, client, demo.MODEL_NAME)
    before_stage = _stage_champion(client)
    n_versions = len(client.search_model_versions(f"name='{demo.MODEL_NAME}'"))

    monkeypatch.setenv("DRIFTGATE_USER", "dave")

    def no_inference(*args, **kwargs):  # a subprocess that loads the model: seconds per model
        raise AssertionError("log_model inferred the requirements instead of using the given ones")

    monkeypatch.setattr("mlflow.utils.environment._infer_requirements", no_inference)
    rc = main(["retrain", "--model", demo.MODEL_NAME, "--config", cfg, "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out)

    # never promoted: alias and stage unchanged
    assert doc["promoted"] is False
    assert champion_version(settings, client, demo.MODEL_NAME) == before_alias == "1"
    assert _stage_champion(client) == before_stage == ["1"]

    # parent run: trigger reason, lineage, selection rule
    parent = client.get_run(doc["parent_run"]["run_id"])
    assert parent.data.tags["driftgate.trigger"] == doc["reason"]
    assert "consecutive daily windows" in doc["reason"] and "monthly_charges" in doc["reason"]
    assert "highest roc_auc" in parent.data.tags["driftgate.selection_rule"]
    for key in (
        "driftgate.training_data",
        "driftgate.training_window",
        "driftgate.eval_window",
        "driftgate.code_version",
    ):
        assert parent.data.tags[key]
    assert parent.info.status == "FINISHED"

    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    roles = sorted(c.data.tags["driftgate.role"] for c in children)
    assert roles == ["candidate", "candidate", "champion"]
    champ = next(c for c in children if c.data.tags["driftgate.role"] == "champion")
    assert champ.data.tags["driftgate.model_version"] == "1"
    row_ids = None
    for child in children:
        assert {"roc_auc", "accuracy", "f1", "brier", "log_loss"} <= set(child.data.metrics)
        assert child.data.tags["driftgate.eval_window"] == doc["eval_window"]
        assert child.data.tags["mlflow.user"] == "dave"
        with tempfile.TemporaryDirectory() as tmp:
            pred = pd.read_parquet(client.download_artifacts(child.info.run_id, "eval/predictions.parquet", tmp))
        assert list(pred.columns) == ["row_id", "y_true", "y_score"]
        ids = sorted(pred["row_id"])
        assert row_ids is None or ids == row_ids  # the same evaluation rows for everyone
        row_ids = ids
    assert row_ids is not None  # at least one candidate was scored
    assert len(row_ids) == doc["rows"]["eval"] == 2 * demo.ROWS_PER_DAY

    # the winner by the explicit rule is registered as a candidate version by dave
    winner = max(doc["candidates"], key=lambda c: c["metrics"]["roc_auc"])
    assert winner["winner"] and sum(c["winner"] for c in doc["candidates"]) == 1
    mv = client.get_model_version(demo.MODEL_NAME, doc["registered_version"])
    assert mv.run_id == winner["run_id"]
    assert mv.tags["driftgate.author"] == "dave" and mv.tags["driftgate.status"] == "candidate"
    assert len(client.search_model_versions(f"name='{demo.MODEL_NAME}'")) == n_versions + 1
    import mlflow

    local = mlflow.artifacts.download_artifacts(
        artifact_uri=client.get_model_version_download_uri(demo.MODEL_NAME, mv.version),
        tracking_uri=settings.tracking_uri,
    )
    info = mlflow.models.Model.load(local)
    assert info.signature is not None
    pinned = (Path(local) / "requirements.txt").read_text().split()
    assert {f"scikit-learn=={version('scikit-learn')}", f"pandas=={version('pandas')}"} <= set(pinned)
    assert set(info.signature.inputs.input_names()) == set(demo.FEATURES)

    # the leaderboard ranks this parent's candidates against the champion baseline
    assert main(["leaderboard", "--experiment", demo.EXPERIMENT, "--metric", "roc_auc", "--format", "json"]) == 0
    board = json.loads(capsys.readouterr().out)
    assert board["parent_run"] == doc["parent_run"]["run_id"]
    champion_rows = [r for r in board["rows"] if r["is_champion"]]
    ranked = [r for r in board["rows"] if r["rank"] is not None]
    assert len(champion_rows) == 1 and champion_rows[0]["rank"] is None
    assert [r["rank"] for r in ranked] == [1, 2]
    assert ranked[0]["run_id"] == winner["run_id"]

    # the gate evaluates the new candidate (it decides; retraining does not)
    assert main(["gate", "--model", demo.MODEL_NAME, "--version", doc["registered_version"], "--format", "json"]) == 0
    gate = json.loads(capsys.readouterr().out)
    assert gate["version"] == doc["registered_version"] and gate["checks"]

    # cool-down now active: an automated second run is refused (exit 3), nothing changes
    rc = main(["retrain", "--model", demo.MODEL_NAME, "--config", cfg])
    err = capsys.readouterr().err
    assert rc == 3 and "cool-down" in err and err.count("\n") == 1
    assert main(["trigger", "--model", demo.MODEL_NAME, "--format", "json"]) == 0
    trig = json.loads(capsys.readouterr().out)
    assert trig["retrain"] is False and trig["cooldown_until"] is not None
    assert len(client.search_model_versions(f"name='{demo.MODEL_NAME}'")) == n_versions + 1


def test_retrain_refuses_when_not_due(demo_copy, day):
    with pytest.raises(Refused) as err:
        retrain(demo_copy, demo.MODEL_NAME, as_of=day(demo.SHIFT_DAY))
    assert "not due" in str(err.value) and "--force" in str(err.value)


@pytest.mark.parametrize(
    "doc, word",
    [
        ('candidates = ["xgb"]', "candidates"),
        ("candidates = []", "candidates"),
        ("train_days = 0", "train_days"),
        ("eval_days = 1.5", "eval_days"),
        ("trian_days = 3", "unknown key"),
    ],
)
def test_retrain_config_errors(tmp_path, doc, word):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[retrain]\n{doc}\n")
    with pytest.raises(BadInput) as err:  # the config schema (or the policy) names the key
        s = load_settings(
            env={"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": "sqlite:///x.db"}, config_file=cfg
        )
        RetrainPolicy.from_settings(s, "m")
    assert word in str(err.value)
