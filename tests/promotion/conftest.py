"""Fixtures for the promotion tests: private demo copies in either lifecycle mode."""

from __future__ import annotations

import pytest

from services.registry.mlflow_client import make_client
from tests.support.demo import settings_with


@pytest.fixture(params=["aliases", "stages"])
def workspace(request, demo_copy):
    """(settings, client) on a private demo copy, once per lifecycle."""
    settings = settings_with(demo_copy.home, lifecycle=request.param)
    return settings, make_client(settings)


@pytest.fixture
def aliases_ws(demo_copy):
    settings = settings_with(demo_copy.home, lifecycle="aliases")
    return settings, make_client(settings)
