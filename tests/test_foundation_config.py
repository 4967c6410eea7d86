"""Settings: environment first, then TOML, then defaults; secrets never shown."""

from __future__ import annotations

import pytest

from services.config import Secret, load_settings, redact_uri
from services.errors import BadInput


def test_defaults_open_the_demo_workspace(tmp_path):
    s = load_settings(env={}, cwd=tmp_path)
    assert s.demo is True
    assert s.home == (tmp_path / ".driftgate").resolve()
    assert s.tracking_uri == f"sqlite:///{(s.home / 'mlflow.db').as_posix()}"
    assert s.registry_uri == s.tracking_uri
    assert s.lifecycle == "aliases"
    assert s.model("churn_classifier")["selection_metric"] == "roc_auc"
    assert s.section("roles")["approvers"] == ["alice", "bob"]


def test_environment_wins_over_toml(tmp_path):
    (tmp_path / "driftgate.toml").write_text(
        '[mlflow]\ntracking_uri = "http://toml:5000"\nlifecycle = "stages"\n[models.m]\nexperiment = "e"\n'
    )
    s = load_settings(env={}, cwd=tmp_path)
    assert (s.tracking_uri, s.demo, s.lifecycle) == ("http://toml:5000", False, "stages")
    assert s.models == {"m": {"experiment": "e"}}
    assert "churn_classifier" not in s.models  # demo config only in demo mode
    s = load_settings(
        env={"MLFLOW_TRACKING_URI": "http://env:5000", "MLFLOW_REGISTRY_URI": "databricks-uc"}, cwd=tmp_path
    )
    assert (s.tracking_uri, s.registry_uri) == ("http://env:5000", "databricks-uc")


def test_explicit_config_file_and_errors(tmp_path):
    cfg = tmp_path / "other.toml"
    cfg.write_text('[mlflow]\nlifecycle = "stages"\n')
    assert load_settings(env={"DRIFTGATE_CONFIG": str(cfg)}, cwd=tmp_path).lifecycle == "stages"
    with pytest.raises(BadInput, match="not found"):
        load_settings(env={"DRIFTGATE_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)
    cfg.write_text("[mlflow\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        load_settings(config_file=cfg, env={}, cwd=tmp_path)
    cfg.write_text('[mlflow]\nlifecycle = "yolo"\n')
    with pytest.raises(BadInput, match="lifecycle"):
        load_settings(config_file=cfg, env={}, cwd=tmp_path)


def test_secrets_from_env_or_secrets_toml_never_shown(tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[databricks]\nhost = "https://x.cloud.databricks.com"\nhttp_path = "/sql/1"\ntoken = "dapi-SECRET"\n'
    )
    s = load_settings(env={}, cwd=tmp_path)
    assert s.databricks.configured and s.databricks.token.get() == "dapi-SECRET"
    assert "dapi-SECRET" not in repr(s) and "dapi-SECRET" not in str(s.describe())
    s = load_settings(env={"DATABRICKS_TOKEN": "dapi-ENV"}, cwd=tmp_path)
    assert s.databricks.token.get() == "dapi-ENV"
    assert "dapi-ENV" not in repr(s.databricks)
    assert repr(Secret(None)) == "Secret(unset)" and not Secret("")


def test_redact_uri():
    assert redact_uri("https://user:pw@host:5000/x") == "https://***@host:5000/x"
    assert redact_uri("sqlite:///a/b.db") == "sqlite:///a/b.db"
