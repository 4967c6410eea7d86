"""``demo advance``: N more daily batches continuing the scenario, scored by the current champion,
labels still arriving late; the trigger then evaluates the new days."""

from __future__ import annotations

import datetime as dt

import deltalake
import pyarrow.compute as pc
import pytest

from services.cli import main
from services.config import load_settings
from services.demo import seed as demo
from services.demo.advance import advance
from services.errors import BadInput
from services.retraining import trigger


def _table(settings):
    return deltalake.DeltaTable(str(demo.scoring_log_path(settings))).to_pyarrow_dataset()


def _day_rows(settings, date):
    return _table(settings).to_table(filter=pc.field(demo.BATCH_DATE) == pc.scalar(date)).to_pandas()


def test_advance_appends_days_and_delivers_delayed_labels(demo_copy, demo_start):
    # The seeded log ends yesterday (day DAYS - 1): one more day (today) is all the clock allows.
    before = _table(demo_copy).count_rows()
    result = advance(demo_copy, 1)
    assert result["rows_appended"] == demo.ROWS_PER_DAY
    assert _table(demo_copy).count_rows() == before + demo.ROWS_PER_DAY
    assert (result["first_day"], result["last_day"]) == (demo.DAYS, demo.DAYS)
    assert "appended 1 daily batch(es)" in result["summary"]

    new_last = demo_start + dt.timedelta(days=demo.DAYS)
    today = dt.datetime.now(dt.UTC).date()
    # today, not a future day (yesterday when the shared demo was seeded before midnight UTC)
    assert today - dt.timedelta(days=1) <= new_last <= today
    rows = _day_rows(demo_copy, new_last)
    assert len(rows) == demo.ROWS_PER_DAY and rows[demo.LABEL].isna().all()
    assert set(rows[demo.MODEL_VERSION_COLUMN]) == {"1"}
    assert rows[demo.ID_COLUMN].is_unique
    # the scenario goes on: the new category is still there, features keep their drifted regime
    assert (rows["payment_method"] == "crypto_wallet").mean() > 0.1
    # labels delayed 3 days: day 87 got its labels now, from the scenario's generator
    got = _day_rows(demo_copy, demo_start + dt.timedelta(days=demo.DAYS - 3)).sort_values(demo.ID_COLUMN)
    truth = demo.generate_day(demo.DAYS - 3)[demo.LABEL].to_numpy()
    assert got[demo.LABEL].notna().all()
    assert (got[demo.LABEL].to_numpy() == truth).all()
    assert _day_rows(demo_copy, demo_start + dt.timedelta(days=demo.DAYS - 2))[demo.LABEL].isna().all()
    assert result["labels_arrived"] == demo.ROWS_PER_DAY

    # the trigger's windows end with the new day
    d = trigger.evaluate(demo_copy, demo.MODEL_NAME)
    assert d.windows[-1].start.date() <= new_last
    assert d.retrain is True
    labelled = [w.start.date() for w in d.windows if w.performance is not None]
    assert max(labelled) == demo_start + dt.timedelta(days=demo.DAYS - 3)


def test_advance_writes_no_future_day(demo_copy, demo_start):
    before = _table(demo_copy).count_rows()
    with pytest.raises(BadInput, match="writes no future days") as err:
        advance(demo_copy, 2)
    assert "\n" not in str(err.value) and "at most 1 now" in str(err.value)
    assert _table(demo_copy).count_rows() == before  # nothing written
    advance(demo_copy, 1)
    with pytest.raises(BadInput, match="none now"):
        advance(demo_copy, 1)


def test_advance_cli_one_line(demo_copy, capsys):
    assert main(["demo", "advance", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("appended 1 daily batch(es)") and out.count("\n") == 1


@pytest.mark.parametrize("days", [0, -1, 400, 1.5, True])
def test_advance_bad_days(demo_copy, days):
    with pytest.raises(BadInput):
        advance(demo_copy, days)


def test_advance_needs_the_demo_workspace(tmp_path):
    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path)})
    with pytest.raises(BadInput, match="not seeded"):
        advance(s, 1)
    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": "sqlite:///x.db"})
    with pytest.raises(BadInput, match="embedded demo"):
        advance(s, 1)
