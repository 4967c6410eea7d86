"""The trigger panel: the figure builder on decision data, and the panel in the app (AppTest)."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import pytest

from components.trigger_panel import BREACH, CALM, NO_EVIDENCE, breach_timeline_figure
from services.retraining.policy import RetrainingRun, TriggerPolicy, TriggerWindow, decide
from tests.support.app import app_test

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, tzinfo=UTC)


def decision_doc(cooldown: bool = False) -> dict:
    ws = []
    for i, kind in enumerate(["ok", "gap", "drift", "perf", "nolabels"]):
        w = TriggerWindow(T0 + dt.timedelta(days=i), T0 + dt.timedelta(days=i + 1))
        if kind != "gap":
            w.rows = 100
            w.drift_share = 0.6 if kind == "drift" else 0.2
            w.drift_breach = kind == "drift"
            w.drifted_features = ["a", "b"] if kind == "drift" else []
        if kind in ("ok", "drift", "perf"):
            w.performance = 0.7 if kind == "perf" else 0.8
            w.performance_drop = 0.1 if kind == "perf" else 0.0
            w.performance_breach = kind == "perf"
        if kind == "nolabels":
            w.notes.append("no labels yet (no performance evidence)")
        ws.append(w)
    end = ws[-1].end
    run = RetrainingRun("r", "retrain", end - dt.timedelta(days=1), "x") if cooldown else None
    return decide(
        "m", ws, TriggerPolicy(), as_of=end, last_run=run, metric="roc_auc", reference_performance=0.8
    ).to_dict()


def test_figure_marks_breaches_gaps_and_thresholds():
    doc = decision_doc()
    fig = breach_timeline_figure(doc)
    assert isinstance(fig, go.Figure)
    by_name = {t.name: t for t in fig.data}
    # a bar's colour says what its height says (one meaning on every page): red only at/above the
    # drift threshold; the performance-only breach of 01-08 keeps a green bar (red marker below)
    drifted, calm, gap = (
        by_name["drift share ≥ threshold"],
        by_name["drift share below threshold"],
        by_name["no data"],
    )
    assert list(drifted.x) == ["2026-01-07"] and list(drifted.y) == [0.6] and drifted.marker.color == BREACH
    assert list(calm.x) == ["2026-01-05", "2026-01-08", "2026-01-09"] and calm.marker.color == CALM
    assert list(calm.y) == [0.2, 0.2, 0.2]
    assert list(gap.x) == ["2026-01-06"] and gap.marker.color == NO_EVIDENCE
    assert list(by_name["roc_auc"].marker.color) == [CALM, CALM, CALM, BREACH, CALM]
    assert set(by_name["drift threshold"].y) == {0.5}
    perf = by_name["roc_auc"]
    assert list(perf.y) == [0.8, None, 0.8, 0.7, None]  # gaps and unlabelled windows: no point
    assert set(by_name["reference"].y) == {0.8}
    assert list(by_name["reference − allowed drop"].y) == pytest.approx([0.75] * 5)
    assert "no labels yet" in calm.hovertext[2] and "BREACH" in drifted.hovertext[0]
    assert not fig.layout.annotations or all("cool-down" not in a.text for a in fig.layout.annotations)
    # The legend hangs from below the date axis (whose ticks take two lines), not across it.
    legend, margin = fig.layout.legend, fig.layout.margin
    assert legend.yanchor == "top" and legend.y < -0.1 and margin.b >= 100


def test_figure_shows_cooldown_and_handles_no_reference():
    doc = decision_doc(cooldown=True)
    assert doc["cooldown_until"]
    fig = breach_timeline_figure(doc)
    assert any("cool-down until" in a.text for a in fig.layout.annotations)
    doc["reference_performance"] = None
    names = {t.name for t in breach_timeline_figure(doc).data}
    assert "reference" not in names
    empty = breach_timeline_figure({"windows": [], "policy": {}})
    assert isinstance(empty, go.Figure)


def _page_with_due_panel(page: str, timeout: int):
    """The page on the demo, rendered without an exception and showing the trigger panel's
    "due" verdict."""
    at = app_test(page, query_params={"model": "churn_classifier"}, timeout=timeout)
    at.run()
    assert not at.exception
    assert "Retraining trigger" in [s.value for s in at.subheader]
    assert any("Retraining is due" in w.value for w in at.warning)
    return at


def test_panel_on_the_overview(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = _page_with_due_panel("app.py", timeout=180)
    # markdown source: names in the reasons are escaped (components.text.md)
    assert any("monthly_charges" in m.value.replace("\\", "") for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 1


def test_panel_on_the_drift_page(demo_settings, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    _page_with_due_panel("pages/drift.py", timeout=240)
