"""Fixtures for the promotion tests: private demo copies in either lifecycle mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.config import load_settings
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client

MODEL = "churn_classifier"


def settings_with(home: Path, extra_toml: str = "", lifecycle: str = "aliases"):
    """Demo-mode settings for ``home`` plus a config file (lifecycle + extra TOML)."""
    cfg = home / "promotion-test.toml"
    cfg.write_text(f'[mlflow]\nlifecycle = "{lifecycle}"\n{extra_toml}\n')
    return load_settings(env={"DRIFTGATE_HOME": str(home)}, config_file=cfg)


@pytest.fixture(params=["aliases", "stages"])
def workspace(request, demo_copy):
    """(settings, client) on a private demo copy, once per lifecycle."""
    settings = settings_with(demo_copy.home, lifecycle=request.param)
    return settings, make_client(settings)


@pytest.fixture
def aliases_ws(demo_copy):
    settings = settings_with(demo_copy.home, lifecycle="aliases")
    return settings, make_client(settings)


def registry_view(settings, client, model: str = MODEL) -> dict:
    """Everything a transition may touch, for before/after comparisons."""
    lc = make_lifecycle(settings, client, model)
    versions = [v.version for v in lc.versions()]
    return {"snapshot": lc.snapshot(versions), "versions": [v.to_json() for v in lc.versions()]}
