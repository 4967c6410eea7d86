"""Figure builders of the Drift page on the exact data the page passes them (the demo workspace),
and the page's sections on short windows and bad ``?days=``."""

from __future__ import annotations

import pytest

from components.drift_charts import (
    distribution_figure,
    drift_share_figure,
    ecdf_figure,
    heatmap_figure,
    label_rate_figure,
    performance_figure,
)
from components.drift_window import default_range, parse_days
from services.demo import seed as demo
from services.drift import drift_over_time, model_drift_report, performance_over_time
from services.drift.model import current_window, model_data
from tests.support.app import app_test

MODEL = demo.MODEL_NAME
NUMERIC = ("tenure_months", "monthly_charges", "support_calls")


def _points(trace) -> int:
    return sum(1 for v in (trace.y if trace.y is not None else trace.z or []) if v is not None)


@pytest.fixture(scope="module")
def page_report(demo_settings):
    # What pages/drift.py passes for the default window (last 7 days, distributions on).
    window = current_window(demo_settings, model_data(demo_settings, MODEL), days=7)
    return model_drift_report(demo_settings, MODEL, current=window, distributions=True)


@pytest.mark.parametrize("feature", NUMERIC)
def test_ecdf_has_both_sides_with_points(page_report, feature):
    fig = ecdf_figure(page_report["distributions"][feature], feature)
    assert [t.name for t in fig.data] == ["reference", "current"]
    for trace in fig.data:
        xs, ys = list(trace.x), list(trace.y)
        assert len(xs) >= 2 and len(xs) == len(ys)
        assert xs == sorted(xs) and ys == sorted(ys)  # a CDF never goes down
        assert ys[-1] == pytest.approx(1.0)
        assert 0.0 <= ys[0] < 1.0


def test_integer_ecdf_steps_at_the_values(page_report):
    # support_calls holds 0, 1, 2, …: the reference's CDF at 0 is its share of zeros.
    dist = page_report["distributions"]["support_calls"]
    fig = ecdf_figure(dist, "support_calls")
    ref = fig.data[0]
    below_one = max(y for x, y in zip(ref.x, ref.y) if x < 1.0)
    assert below_one == pytest.approx(dist["reference"][0] / sum(dist["reference"]))
    assert len(ref.x) < 100  # one step per value, not 2,000 repeated points


@pytest.mark.parametrize("feature", NUMERIC + ("contract", "payment_method", "region"))
def test_distribution_bars_have_points(page_report, feature):
    fig = distribution_figure(page_report["distributions"][feature], feature)
    assert all(_points(t) > 0 for t in fig.data) and len(fig.data) == 2


def test_over_time_and_performance_figures_have_points(demo_settings):
    over = drift_over_time(demo_settings, MODEL, unit="day")
    perf = performance_over_time(demo_settings, MODEL, unit="day")
    labelled = {**perf, "windows": [w for w in perf["windows"] if w.get("labelled")]}
    assert _points(heatmap_figure(over).data[0]) > 0
    assert _points(drift_share_figure(over, 0.5).data[0]) > 0
    assert all(_points(t) > 0 for t in performance_figure(labelled).data)
    assert _points(label_rate_figure(labelled).data[0]) > 0


def test_parse_days():
    assert parse_days("3", [1, 3, 7]) == (3, None)
    assert parse_days(None, [1, 3, 7]) == (7, None)
    for bad in ("²", "٢", "9" * 5000, "-1", "abc", "4"):
        value, problem = parse_days(bad, [1, 3, 7])
        assert value == 7 and problem and "showing the last 7 days" in problem and len(problem) < 200


def test_default_range_is_the_last_days_with_data():
    from datetime import date

    last, first = date(2026, 11, 30), date(2026, 9, 2)
    assert default_range(None, None, last, first) == ((date(2026, 11, 24), last), None)
    picked, note = default_range("2026-12-03", "2026-12-09", last, first)
    assert note is not None  # a range outside the data is explained
    assert picked == (date(2026, 11, 24), last) and "No rows from 2026-12-03 to 2026-12-09" in note
    assert "2026-09-02 to 2026-11-30" in note
    assert default_range("2026-11-01", "2026-11-10", last, first) == ((date(2026, 11, 1), date(2026, 11, 10)), None)


@pytest.mark.parametrize("days", ["1", "3"])
def test_short_window_keeps_every_section(demo_settings, monkeypatch, days):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = app_test("pages/drift.py", {"model": MODEL, "days": days})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    heads = [s.value for s in at.subheader]
    for section in (
        "Drift over time",
        "Label and prediction drift",
        "Model performance over time",
        "Retraining trigger",
    ):
        assert section in heads
    infos = " ".join(i.value for i in at.info)
    assert "Labels for this window have not arrived yet — latest labelled day 2026-11-" in infos
    # prediction drift is still tested for the window
    tables = [t.value for t in at.dataframe]
    assert any("prediction" in list(getattr(t, "get", lambda *_: [])("feature", [])) for t in tables)


@pytest.mark.parametrize("raw", ["²", "9" * 5000])
def test_bad_days_is_one_line(demo_settings, monkeypatch, raw):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_settings.home))
    at = app_test("pages/drift.py", {"model": MODEL, "days": raw})
    at.run()
    assert not at.exception, [e.value[:200] for e in at.exception]
    assert any("is not a number of days" in w.value for w in at.warning)
    assert at.query_params["days"] in ("7", ["7"])
