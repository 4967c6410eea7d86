"""Figure builders of the runs/leaderboard pages, on their data (no Streamlit)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from components.leaderboard_charts import (
    CHAMPION,
    WINNER,
    parallel_coordinates,
    pareto_front,
    pareto_scatter,
    ranked_bars,
    shap_bars,
    shap_detail,
    top_bars,
    versions_over_time,
)
from components.runs_charts import candidates_strip, metric_history_lines
from services.compare.shap import compare_importance

ROWS: list[dict[str, Any]] = [
    {
        "run_name": "gbm",
        "role": "winner",
        "rank": 1,
        "value": 0.80,
        "delta_vs_champion": 0.10,
        "ci_low": 0.05,
        "ci_high": 0.15,
    },
    {
        "run_name": "rf",
        "role": "candidate",
        "rank": 2,
        "value": 0.75,
        "delta_vs_champion": 0.05,
        "ci_low": None,
        "ci_high": None,
    },
    {
        "run_name": "champ",
        "role": "champion baseline",
        "rank": None,
        "value": 0.70,
        "delta_vs_champion": 0.0,
        "ci_low": None,
        "ci_high": None,
    },
    {
        "run_name": "broken",
        "role": "candidate",
        "rank": None,
        "value": None,
        "delta_vs_champion": None,
        "ci_low": None,
        "ci_high": None,
    },
]


def test_ranked_bars_winner_champion_and_intervals():
    fig = ranked_bars(ROWS, "roc_auc")
    assert isinstance(fig, go.Figure)
    bar = fig.data[0]
    assert list(bar.y) == ["#1 gbm", "#2 rf", "champ (champion)", "broken"]
    assert list(bar.marker.color)[0] == WINNER and list(bar.marker.color)[2] == CHAMPION
    # Interval of the candidate's value = champion value + delta CI: [0.75, 0.85] around 0.80.
    assert bar.error_x.array[0] == pytest.approx(0.05) and bar.error_x.arrayminus[0] == pytest.approx(0.05)
    assert bar.error_x.array[1] == 0 and bar.error_x.visible
    assert bar.text[3] == "no value" and "+0.1000" in bar.text[0] and "[+0.0500, +0.1500]" in bar.hovertext[0]
    shapes = fig.layout.shapes
    assert len(shapes) == 1 and shapes[0].x0 == pytest.approx(0.70) and shapes[0].line.dash == "dash"
    assert "higher is better" in fig.layout.title.text


def test_ranked_bars_without_champion_has_no_line():
    rows = [dict(r, delta_vs_champion=None) for r in ROWS if r["role"] != "champion baseline"]
    fig = ranked_bars(rows, "brier", greater_is_better=False)
    assert not fig.layout.shapes and not fig.data[0].error_x.visible
    assert "lower is better" in fig.layout.title.text


def brute_front(points, xh, yh):
    sx, sy = (1 if xh else -1), (1 if yh else -1)
    ok = [i for i, p in enumerate(points) if all(math.isfinite(v) for v in p)]
    return sorted(
        (
            i
            for i in ok
            if not any(
                sx * points[j][0] >= sx * points[i][0]
                and sy * points[j][1] >= sy * points[i][1]
                and (points[j] != points[i])
                for j in ok
            )
        ),
        key=lambda i: points[i][0],
    )


@hsettings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6).map(float), st.integers(0, 6).map(float)), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_pareto_front_is_the_non_dominated_set(points, xh, yh):
    front = pareto_front(points, xh, yh)
    assert front == brute_front(points, xh, yh)  # the same points in the same order (by x)
    # No front point dominates another one.
    sx, sy = (1 if xh else -1), (1 if yh else -1)
    for i, j in itertools.permutations(front, 2):
        assert not (
            sx * points[i][0] >= sx * points[j][0] and sy * points[i][1] >= sy * points[j][1] and points[i] != points[j]
        )


def test_pareto_scatter_marks_roles_and_front():
    pts = [dict(r, auc=r["value"], brier=b) for r, b in zip(ROWS, [0.18, 0.17, 0.25, None])]
    fig = pareto_scatter(pts, "auc", "brier", x_higher=True, y_higher=False)
    names = [t.name for t in fig.data]
    assert names == ["candidate", "winner", "champion baseline", "Pareto front"]
    front = fig.data[-1]
    # gbm (0.80, 0.18) and rf (0.75, 0.17) are both optimal; champ (0.70, 0.25) is dominated.
    assert list(front.x) == [0.75, 0.80] and list(front.y) == [0.17, 0.18]


def test_parallel_coordinates_numeric_and_categorical():
    rows: list[dict[str, Any]] = [
        {"roc_auc": 0.8, "param:depth": "3", "param:kind": "gbm"},
        {"roc_auc": 0.7, "param:depth": "8", "param:kind": "rf"},
        {"roc_auc": None, "param:depth": "5", "param:kind": "rf"},
    ]
    fig = parallel_coordinates(rows, ["depth", "kind"], "roc_auc")
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["depth", "kind", "roc_auc"]
    assert list(dims[0].values) == [3.0, 8.0]  # run without a value is left out
    assert list(dims[1].ticktext) == ["gbm", "rf"] and list(dims[1].values) == [0, 1]
    assert list(dims[2].values) == [0.8, 0.7]


def test_shap_bars_and_detail():
    table = compare_importance({"a": 1.0, "b": 3.0, "c": 0.0}, {"a": 2.0, "b": 1.0, "d": 1.0})
    fig = shap_bars(table, "v1 (champion)", "v2 (candidate)")
    assert [t.name for t in fig.data] == ["v1 (champion)", "v2 (candidate)"]
    assert list(fig.data[0].y)[0] == "b"  # most important first
    assert sum(v or 0 for v in fig.data[0].x) == pytest.approx(1.0)  # shares
    raw = shap_bars(table, share=False)
    assert sorted(v for v in raw.data[0].x if v is not None) == [0.0, 1.0, 3.0]
    det = shap_detail("a", [1, 2, 3], [0.1, 0.2, 0.3], [0.3, 0.2])
    assert len(det.data) == 2 and list(det.data[1].x) == [1, 2]


def test_compare_importance_shares_and_order():
    table = compare_importance({"a": 1.0, "b": 3.0}, {"a": 3.0, "b": 1.0, "c": 0.0})
    by = {r["feature"]: r for r in table}
    assert by["a"]["champion_share"] == pytest.approx(0.25) and by["a"]["candidate_share"] == pytest.approx(0.75)
    assert by["a"]["delta_share"] == pytest.approx(0.5) and by["b"]["delta_share"] == pytest.approx(-0.5)
    assert by["c"]["missing_in"] == "champion" and table[-1]["feature"] == "c"
    assert by["b"]["champion_rank"] == 1 and by["a"]["candidate_rank"] == 1


def test_versions_over_time():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    versions = [
        {"version": "1", "when": t0, "value": 0.78, "is_champion": True},
        {"version": "2", "when": t0 + timedelta(days=40), "value": 0.76, "is_champion": False},
        {"version": "3", "when": t0 + timedelta(days=41), "value": None, "is_champion": False},
    ]
    reevals = [{"version": "1", "when": t0 + timedelta(days=40), "value": 0.60, "eval_window": "w"}]
    fig = versions_over_time(versions, reevals, "roc_auc")
    assert list(fig.data[0].y) == [0.78, 0.76] and fig.data[0].text[0] == "v1 (champion)"
    assert list(fig.data[1].y) == [0.60]
    assert list(fig.data[2].y) == [0.78, 0.60]  # the champion's drop is drawn from training to re-evaluation


def test_metric_history_lines_and_strip():
    hist = [{"run": "gbm", "key": "val_auc", "step": s, "value": v} for s, v in [(2, 0.7), (1, 0.6), (3, float("nan"))]]
    hist += [{"run": "rf", "key": "val_auc", "step": 1, "value": 0.5}]
    fig = metric_history_lines(hist)
    assert [t.name for t in fig.data] == ["gbm: val_auc", "rf: val_auc"]
    assert list(fig.data[0].x) == [1, 2] and list(fig.data[0].y) == [0.6, 0.7]
    strip = candidates_strip(
        [{"run_name": "a", "value": 0.8, "role": "winner"}, {"run_name": "b", "value": None, "role": "candidate"}],
        "auc",
    )
    assert list(strip.data[0].x) == [0.8] and list(strip.data[0].marker.color) == ["#16a34a"]


def test_parallel_coordinates_put_unset_params_on_one_tick_below_the_values():
    """What the demo logs: scikit-learn's unset max_depth is "None", a features list is long text."""
    feats_a = "['contract', 'monthly_charges', 'payment_method', 'region', 'support_calls']"
    feats_b = "contract,monthly_charges,region,support_calls"  # the demo's way
    rows: list[dict[str, Any]] = [
        {"roc_auc": 0.75, "param:max_depth": "3", "param:features": feats_a, "param:C": "None"},
        {"roc_auc": 0.74, "param:max_depth": "8", "param:features": feats_a, "param:C": "deprecated"},
        {"roc_auc": 0.59, "param:max_depth": "None", "param:features": feats_b, "param:C": "0.5"},
    ]
    depth, feats, c, _ = parallel_coordinates(rows, ["max_depth", "features", "C"], "roc_auc").data[0].dimensions
    # Numeric axis: the real values keep their place, the unset run sits below them on "not set".
    assert list(depth.values)[:2] == [3.0, 8.0] and depth.values[2] < 3.0
    assert list(depth.ticktext) == ["not set", "3", "8"] and depth.tickvals[0] == depth.values[2]
    assert "None" not in list(depth.ticktext) + list(c.ticktext)
    # "None" and "deprecated" are both "not set": one tick, not two categories.
    assert list(c.ticktext) == ["not set", "0.5"] and c.values[0] == c.values[1] != c.values[2]
    # A logged list is labelled by its length, short enough not to be clipped at the left edge.
    assert list(feats.ticktext) == ["5 items", "4 items"] and list(feats.values) == [0, 0, 1]


def test_ranked_bar_labels_start_past_the_interval():
    fig = ranked_bars(ROWS, "roc_auc")
    bar = fig.data[0]
    notes = {a.y: a for a in fig.layout.annotations if a.y in bar.y}
    # gbm's interval ends at 0.85: its label starts there, not on the error bar.
    assert notes["#1 gbm"].x == pytest.approx(0.85) and notes["#1 gbm"].xanchor == "left"
    assert notes["#1 gbm"].text == bar.text[0] and notes["#2 rf"].x == pytest.approx(0.75)
    assert bar.textposition == "none"
    assert fig.layout.xaxis.range[1] > 0.85  # the label has room


def test_the_ranking_chart_shows_the_top_runs_and_the_baseline_of_a_large_board():
    champ = {"run_name": "champ", "role": "champion baseline", "value": 0.5, "rank": None}
    many = [
        {"run_name": f"r{i}", "role": "winner" if i == 0 else "candidate", "value": 0.9 - i / 1e4, "rank": i + 1}
        for i in range(1000)
    ] + [{"run_name": "no-value", "role": "candidate", "value": None, "rank": None}]
    shown, left_out = top_bars([many[0], champ, *many[1:]], limit=30)
    assert [r["run_name"] for r in shown] == ["r0", "champ", *[f"r{i}" for i in range(1, 30)]]
    assert left_out == 1001 - 30
    fig = ranked_bars(shown, "auc")
    assert len(fig.data[0].y) == 31 and len(fig.layout.annotations) == 31 + 1  # a label per bar + the line's
    # A board within the limit is drawn whole, runs without a value included.
    few = [many[0], champ, *many[1:5], many[-1]]
    assert top_bars(few, limit=30) == (few, 0)
