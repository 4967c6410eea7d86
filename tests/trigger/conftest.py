"""Fixtures of the trigger tests: demo day -> date helpers and configs written to tmp files."""

from __future__ import annotations

import datetime as dt

import pytest

from services.demo import seed as demo


@pytest.fixture(scope="session")
def demo_start(demo_settings) -> dt.date:
    manifest = demo.read_manifest(demo_settings.home)
    assert manifest is not None, "the demo workspace is seeded"
    return dt.date.fromisoformat(manifest["start_date"])


@pytest.fixture(scope="session")
def day(demo_start):
    """``day(d)``: midnight UTC of demo day d (the as-of that evaluates windows before day d)."""

    def at(d: int) -> dt.datetime:
        return dt.datetime.combine(demo_start + dt.timedelta(days=d), dt.time(), tzinfo=dt.UTC)

    return at
