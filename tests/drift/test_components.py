"""Figure builders and table frames of the Drift page, on report-shaped data."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest

from components.drift_charts import (
    distribution_figure,
    drift_share_figure,
    ecdf_figure,
    heatmap_figure,
    label_rate_figure,
    performance_figure,
    severity,
)
from components.drift_tables import feature_frame, summary_frame


def _feature(name, test, statistic, threshold, drifted, p=None, padj=None, kind="numeric"):
    summary = {"count": 10, "missing_share": 0.1, "mean": 1.0, "std": 0.5, "min": 0.0, "median": 1.0, "max": 2.0}
    return {
        "feature": name,
        "kind": kind,
        "test": test,
        "statistic": statistic,
        "p_value": p,
        "p_value_adjusted": padj,
        "threshold": threshold,
        "drifted": drifted,
        "stats": {},
        "summary": {"reference": summary, "current": {**summary, "missing_share": 0.2}},
    }


REPORT = {
    "features": [
        _feature("a", "wasserstein", 0.05, 0.1, False),
        _feature("b", "wasserstein", 0.5, 0.1, True),
        _feature("c", "ks", 0.3, 0.05, True, p=1e-6, padj=1e-5),
        _feature("d", "wasserstein", None, 0.1, True),
    ]
}


def test_severity_and_feature_frame_order():
    assert severity(REPORT["features"][0]) == pytest.approx(0.5)
    assert severity(REPORT["features"][2]) == pytest.approx(math.log(1e-5) / math.log(0.05))
    assert severity(REPORT["features"][3]) is None
    frame = feature_frame(REPORT)
    assert list(frame["feature"]) == ["d", "b", "c", "a"]  # drifted first, most severe first
    # the true ratio, not capped: b is 0.5 / 0.1 = 5x; d's statistic is undefined (no ratio)
    assert frame.loc[frame.feature == "b", "severity"].item() == pytest.approx(5.0)
    assert math.isnan(frame.loc[frame.feature == "d", "severity"].item())
    assert list(frame["drifted"]) == [True, True, True, False]
    assert frame.loc[frame.feature == "c", "p_value_adjusted"].item() == 1e-5
    s = summary_frame(REPORT["features"][0])
    assert list(s.columns) == ["reference", "current"] and s.loc["missing_share", "current"] == "0.2"


def test_distribution_figures():
    dist = {
        "kind": "numeric",
        "labels": ["(-inf, 1]", "(1, +inf)"],
        "reference": [30, 10],
        "current": [10, 30],
        "reference_grid": [0.0, 1.0, 2.0],
        "current_grid": [1.0, 2.0, 3.0],
    }
    fig = distribution_figure(dist, "x")
    assert isinstance(fig, go.Figure) and [t.name for t in fig.data] == ["reference", "current"]
    assert list(fig.data[0].y) == [0.75, 0.25] and list(fig.data[1].customdata) == [10, 30]
    ecdf = ecdf_figure(dist, "x")
    assert list(ecdf.data[1].x) == [1.0, 2.0, 3.0] and list(ecdf.data[1].y) == [0.0, 0.5, 1.0]


def test_heatmap_and_share():
    over = {
        "unit": "day",
        "features": ["a", "b"],
        "windows": [
            {
                "start": "2026-01-01",
                "drift_share": 0.0,
                "drifted": False,
                "features": {
                    "a": _feature("a", "wasserstein", 0.05, 0.1, False),
                    "b": _feature("b", "wasserstein", 0.01, 0.1, False),
                },
            },
            {
                "start": "2026-01-02",
                "drift_share": 0.5,
                "drifted": True,
                "features": {
                    "a": _feature("a", "wasserstein", 0.9, 0.1, True),
                    "b": _feature("b", "wasserstein", 0.02, 0.1, False),
                },
            },
        ],
    }
    fig = heatmap_figure(over)
    hm = fig.data[0]
    assert list(hm.y) == ["a", "b"] and list(hm.x) == ["2026-01-01", "2026-01-02"]
    assert hm.z[0][1] == 3.0 and hm.z[0][0] == pytest.approx(0.5)
    assert hm.text[0] == ("", "✕") or list(hm.text[0]) == ["", "✕"]
    assert fig.layout.height >= 240  # two rows still leave the colour bar room for its ticks
    share = {t.name: t for t in drift_share_figure(over, 0.5).data}
    assert list(share["drift share ≥ threshold (dataset drift)"].y) == [0.5]
    assert list(share["drift share below threshold"].y) == [0.0]


def test_performance_figures():
    perf = {
        "reference": {"roc_auc": 0.8, "accuracy": 0.7, "label_rate": 0.3},
        "windows": [
            {"start": "2026-01-01", "roc_auc": 0.79, "accuracy": 0.7, "label_rate": 0.31},
            {"start": "2026-01-02", "roc_auc": 0.6, "accuracy": 0.55, "label_rate": 0.45},
        ],
    }
    fig = performance_figure(perf)
    names = [t.name for t in fig.data]
    assert names == ["roc_auc", "reference roc_auc 0.800", "accuracy", "reference accuracy 0.700"]
    assert list(fig.data[0].y) == [0.79, 0.6]
    # The reference lines: dashed, in their metric's colour, across the windows, named in the legend
    # (no text annotation drawn over the points).
    ref = fig.data[1]
    assert list(ref.y) == [0.8, 0.8] and list(ref.x) == ["2026-01-01", "2026-01-02"]
    assert ref.line.dash == "dash" and ref.line.color == fig.data[0].line.color
    assert not fig.layout.annotations
    lr = label_rate_figure(perf)
    assert list(lr.data[0].y) == [0.31, 0.45]
