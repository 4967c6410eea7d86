"""AppTest of the Drift page on the seeded demo workspace."""

from __future__ import annotations

import pytest

from services import demo
from tests.helpers import app_test


@pytest.fixture
def at(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    return app_test("pages/drift.py", {"model": demo.MODEL_NAME, "feature": "payment_method"})


def test_drift_page_shows_the_injected_drift(at):
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("3 of 6 features drifted" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert sorted(table.loc[table.drifted, "feature"]) == ["contract", "monthly_charges", "payment_method"]
    assert sorted(table.loc[~table.drifted, "feature"]) == ["region", "support_calls", "tenure_months"]
    feature = at.selectbox(key=None) if False else next(s for s in at.selectbox if s.label == "Feature")
    assert feature.value == "payment_method"
    assert at.query_params["days"] == ["7"] or at.query_params["days"] == "7"
    assert len(at.get("plotly_chart")) >= 6


def test_selection_and_windows_follow_query_params(at):
    at.run()
    next(s for s in at.selectbox if s.label == "Feature").set_value("tenure_months").run()
    assert not at.exception
    assert "tenure_months" in str(at.query_params["feature"])
    next(s for s in at.selectbox if s.label == "Windows").set_value("week").run()
    assert not at.exception and "week" in str(at.query_params["unit"])
    at.select_slider[0].set_value(30).run()
    assert not at.exception
    assert any("of 6 features drifted" in m.value for m in list(at.warning) + list(at.success))


def test_empty_window_says_which_range_has_data(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = app_test("pages/drift.py", {"model": demo.MODEL_NAME, "start": "2001-01-01", "end": "2001-01-31"})
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    notes = [w.value for w in at.warning if w.value.startswith("No rows from 2001-01-01 to 2001-01-31")]
    assert len(notes) == 1 and "the scoring log has rows from" in notes[0] and "showing" in notes[0]
    assert any("of 6 features drifted" in m.value for m in list(at.warning) + list(at.success))
