"""AppTest of the Drift page on the seeded demo workspace."""

from __future__ import annotations

import json

import pytest

from services.demo import seed as demo
from tests.support.app import app_test


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


def test_sensitivity_notes_and_estimated_performance_on_the_page(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    from datetime import date, timedelta

    day = (date.fromisoformat(demo.ground_truth(demo_settings.home)["start_date"]) + timedelta(days=40)).isoformat()
    at = app_test("pages/drift.py", {"model": demo.MODEL_NAME, "start": day, "end": day})  # one labelled day
    at.run(timeout=120)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    captions = [c.value for c in at.caption]
    notes = [c for c in captions if c.startswith("Sensitivity")]
    # one day (1,000 rows) cannot see a 0.1-std shift of a normal-ish feature; a 7-day window can
    assert any(
        c.startswith("Sensitivity — tenure\\_months: window too small to detect a 0.1-std shift: 1,000 rows; need ≈ ")
        for c in notes
    ), notes
    table = at.dataframe[0].value
    assert "min detectable" in table.columns and "sensitivity" in table.columns
    row = table.set_index("feature").loc["tenure_months"]
    assert row["min detectable"] > 0.1 and row["sensitivity"].startswith("window too small")
    # CBPE: the warning of the demo's concept drift, and the caveat for the unlabelled days
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("**estimates unreliable: concept drift on the labelled windows**") for w in warnings), (
        warnings
    )
    assert any(
        c.startswith(f"{demo.LABEL_DELAY_DAYS} window(s) without labels: estimated ROC AUC ")
        and "assumes no concept drift" in c
        for c in captions
    ), captions
    specs = [el.proto.spec for el in at.get("plotly_chart")]
    perf = [sp for sp in specs if "Model performance over time" in sp]
    assert (
        len(perf) == 1
        and '"estimated roc_auc (no labels yet)"' in perf[0]
        and '"dash":"dash"' in perf[0].replace(" ", "")
    )
    week = app_test("pages/drift.py", {"model": demo.MODEL_NAME, "days": "7"})
    week.run(timeout=120)
    assert not [c.value for c in week.caption if c.value.startswith("Sensitivity")]


def test_performance_chart_has_the_dashed_estimated_series():
    from components.drift_charts import performance_figure
    from components.drift_estimates import add_estimated_series, estimate_caption

    perf = {"windows": [{"start": "2026-01-01", "roc_auc": 0.8, "accuracy": 0.7}], "reference": {"roc_auc": 0.78}}
    est = {
        "assumption": "it assumes no concept drift",
        "windows": [
            {"start": "2026-01-01", "realised_roc_auc": 0.8, "estimated_roc_auc": 0.79, "band": [0.75, 0.83]},
            {"start": "2026-01-02", "realised_roc_auc": None, "estimated_roc_auc": 0.77, "band": [0.73, 0.81]},
            {"start": "2026-01-03", "realised_roc_auc": None, "estimated_roc_auc": 0.76, "band": [0.72, 0.80]},
        ],
    }
    fig = add_estimated_series(performance_figure(perf), est)
    by_name = {t.name: t for t in fig.data}
    dashed = by_name["estimated roc_auc (no labels yet)"]
    assert dashed.line.dash == "dash" and list(dashed.x) == ["2026-01-02", "2026-01-03"]
    assert list(dashed.y) == [0.77, 0.76]
    band = by_name["estimate band (95%)"]
    assert band.mode == "lines" and band.fill == "toself"  # no corner dots that read as data
    assert fig.layout.legend.yanchor == "top" and fig.layout.legend.y < 0  # under the dates
    assert list(band.y) == [0.81, 0.80, 0.72, 0.73]
    assert list(by_name["estimated roc_auc (labelled windows)"].y) == [0.79]
    assert by_name["roc_auc"].line.dash is None
    assert estimate_caption(est).startswith("2 window(s) without labels: estimated ROC AUC 0.760 (band 0.720–0.800)")


def _feature_box(at):
    return next(s for s in at.selectbox if s.label == "Feature")


def test_every_pick_of_a_widget_synced_to_the_url_takes(at):
    """Widgets whose default comes from the query string they write (feature, days) keep each pick:
    a default that followed the previous pick used to give the widget a new identity, so every
    second pick snapped back to the previous value."""
    at.run()
    for name in ("support_calls", "tenure_months", "contract", "support_calls"):
        _feature_box(at).set_value(name).run()
        assert not at.exception, at.exception
        assert _feature_box(at).value == name
        assert at.query_params["feature"] in (name, [name])
        specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        titles = [str((s.get("layout", {}).get("title") or {}).get("text", "")) for s in specs]
        assert any(f"{name}: distribution" in t for t in titles), titles
    for days in (3, 14, 1, 30):
        at.select_slider[0].set_value(days).run()
        assert not at.exception, at.exception
        assert at.select_slider[0].value == days and at.query_params["days"] in (str(days), [str(days)])
