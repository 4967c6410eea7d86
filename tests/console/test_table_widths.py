"""No value is cut off in the console's tables: every text column of the Promotions (registered
versions, audit log), Retraining runs and Drift (features, label / prediction) tables is at least
as wide as its longest value, or the value is shown in full under the table."""

from __future__ import annotations

import json
import re

import pandas as pd

from services.demo import seed as demo
from services.promotion.approvals import approve, rollback
from tests.support.app import app_test, assert_no_exception
from tests.support.demo import settings_with

NAMED = {"small": 75, "medium": 200, "large": 400}
LONG_COMMENT = "rolled back because the holiday traffic " * 12  # far wider than any column


def _needs_px(text: str) -> int:
    # A conservative lower bound of the grid's 14 px text (7 px a character) plus cell padding.
    return 7 * len(text) + 16


def _page_text(at) -> str:
    """The markdown shown on the page, as rendered (escapes removed)."""
    return " ".join(m.value for m in at.markdown).replace("\\", "")


def _cut(at) -> list[str]:
    """'<column>: <value>' for every text value wider than its column and not shown in full
    elsewhere on the page."""
    cut, shown_in_full = [], _page_text(at)
    for df in at.dataframe:
        config = json.loads(df.proto.columns or "{}")
        order = list(df.proto.column_order)
        frame: pd.DataFrame = df.value
        for col in frame.columns:
            if (order and str(col) not in order) or (config.get(str(col)) or {}).get("hidden"):
                continue
            texts = [str(v) for v in frame[col] if isinstance(v, str)]
            if not texts:
                continue
            width = (config.get(str(col)) or {}).get("width")
            px = NAMED.get(width, width) if width is not None else 0
            for text in texts:
                if _needs_px(text) > px and text not in shown_in_full:
                    cut.append(f"{col}: {text[:40]} needs {_needs_px(text)} px, has {px}")
    return cut


def test_promotions_tables_show_every_value(demo_copy, monkeypatch):
    s = settings_with(demo_copy.home, '[roles]\napprovers = ["dave"]\n')
    approve(s, demo.MODEL_NAME, "2", "dave", "good enough")
    rollback(s, demo.MODEL_NAME, "dave", LONG_COMMENT)
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_copy.home))
    monkeypatch.setenv("DRIFTGATE_CONFIG", str(s.config_path))
    at = app_test("pages/promotions.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(at)
    assert len(at.dataframe) >= 2  # registered versions + audit log
    assert "registered (UTC)" in json.dumps([json.loads(d.proto.columns) for d in at.dataframe])
    assert _cut(at) == []
    assert LONG_COMMENT.strip()[:60] in _page_text(at)  # the long comment in full, under the table
    log = next(d for d in at.dataframe if "reason" in d.value.columns)
    # The comment (the human why) and the reason come before the model (picked in the sidebar).
    assert list(log.proto.column_order)[:7] == ["at", "user", "action", "outcome", "version", "comment", "reason"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t) for t in log.value["at"])


def test_runs_and_drift_tables_show_every_value(demo_home, monkeypatch):
    monkeypatch.setenv("DRIFTGATE_HOME", str(demo_home))
    runs = app_test("pages/runs.py", {"model": demo.MODEL_NAME}).run()
    assert_no_exception(runs)
    assert any("winner" in d.value.columns for d in runs.dataframe)
    parents = next(d.value for d in runs.dataframe if "trigger" in d.value.columns)
    cols = list(parents.columns)
    # The long trigger reason comes after what a reviewer scans (it pushed status off at 1400 px).
    assert max(cols.index(c) for c in ("status", "candidates", "winner")) < cols.index("trigger")
    assert _cut(runs) == []
    drift = app_test("pages/drift.py", {"model": demo.MODEL_NAME, "days": "7"}).run()
    assert_no_exception(drift)
    assert len(drift.dataframe) >= 2  # features + label / prediction
    assert _cut(drift) == []
    # Twelve columns scroll sideways at 1400 px: the feature column is pinned, so a row stays named.
    feature_tables = [df for df in drift.dataframe if "p_value" in df.value.columns]
    assert len(feature_tables) == 2  # the features and the label / prediction tables
    for df in feature_tables:
        assert json.loads(df.proto.columns)["feature"].get("pinned") is True
