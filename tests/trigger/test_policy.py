"""The trigger policy itself (no data): validation of [trigger] and the decide() rules."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from services.errors import BadInput
from services.retraining.policy import RetrainingRun, TriggerPolicy, TriggerWindow, decide, parse_as_of

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 5, tzinfo=UTC)


def windows_from(flags: list[bool | None]) -> list[TriggerWindow]:
    """Daily windows from T0; True = breach (drift), False = no breach, None = gap (no data)."""
    out = []
    for i, flag in enumerate(flags):
        w = TriggerWindow(T0 + dt.timedelta(days=i), T0 + dt.timedelta(days=i + 1))
        if flag is not None:
            w.rows = 100
            w.drift_share = 0.6 if flag else 0.1
            w.drifted_features = ["a", "b", "c"] if flag else []
            w.drift_breach = bool(flag)
        out.append(w)
    return out


def as_of(ws: list[TriggerWindow]) -> dt.datetime:
    return ws[-1].end


def run_at(days_before: float, ws) -> RetrainingRun:
    return RetrainingRun("r1", "retrain-x", as_of(ws) - dt.timedelta(days=days_before), "drift")


def test_defaults_are_the_spec_defaults():
    p = TriggerPolicy()
    assert (
        p.drift_share_threshold,
        p.performance_drop_threshold,
        p.consecutive_windows,
        p.cooldown_days,
        p.window,
        p.schedule_days,
    ) == (0.5, 0.05, 3, 7, "daily", None)


@pytest.mark.parametrize(
    "doc, word",
    [
        ({"drift_share_threshold": -0.1}, "drift_share_threshold"),
        ({"drift_share_threshold": 1.5}, "drift_share_threshold"),
        ({"drift_share_threshold": 0}, "drift_share_threshold"),
        ({"performance_drop_threshold": -0.05}, "performance_drop_threshold"),
        ({"consecutive_windows": 0}, "consecutive_windows"),
        ({"consecutive_windows": 2.5}, "consecutive_windows"),
        ({"consecutive_windows": True}, "consecutive_windows"),
        ({"cooldown_days": -1}, "cooldown_days"),
        ({"cooldown_days": "7"}, "cooldown_days"),
        ({"schedule_days": 0}, "schedule_days"),
        ({"window": "hourly"}, "window"),
        ({"performance_metric": "f1"}, "performance_metric"),
        ({"consecutive_windows": 40, "lookback_windows": 30}, "lookback_windows"),
        ({"consecutive_window": 3}, "unknown key"),
    ],
)
def test_impossible_thresholds_are_bad_input(doc, word):
    with pytest.raises(BadInput) as err:
        TriggerPolicy.from_mapping(doc)
    assert word in str(err.value) and "\n" not in str(err.value)


def test_weekly_window_and_per_model_override(tmp_path):
    from services.config import load_settings

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[trigger]\nwindow = "weekly"\nconsecutive_windows = 2\n[models.m.trigger]\nconsecutive_windows = 4\n'
    )
    s = load_settings(env={"DRIFTGATE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": "sqlite:///x.db"}, config_file=cfg)
    assert TriggerPolicy.from_settings(s).window_width == dt.timedelta(days=7)
    assert TriggerPolicy.from_settings(s, "m").consecutive_windows == 4


def test_as_of_date_is_midnight_utc():
    assert parse_as_of("2026-03-04") == dt.datetime(2026, 3, 4, tzinfo=UTC)
    assert parse_as_of("2026-03-04T10:00:00+02:00") == dt.datetime(2026, 3, 4, 8, tzinfo=UTC)
    with pytest.raises(BadInput):
        parse_as_of("yesterday")


def test_persistence_needs_consecutive_trailing_breaches():
    p = TriggerPolicy()
    ws = windows_from([False, True, True, True])
    d = decide("m", ws, p, as_of=as_of(ws), last_run=None)
    assert d.retrain and d.streak == 3 and d.cooldown_until is None
    assert "3 consecutive daily windows" in d.reasons[0] and "a, b, c" in " ".join(d.reasons)
    ws = windows_from([True, True, True, False, True, True])
    d = decide("m", ws, p, as_of=as_of(ws), last_run=None)
    assert not d.retrain and d.streak == 2
    assert "2 daily window(s) only" in d.reasons[0]


def test_a_gap_breaks_the_streak_and_is_explained():
    p = TriggerPolicy()
    ws = windows_from([True, True, True, True, None])
    d = decide("m", ws, p, as_of=as_of(ws), last_run=None)
    assert not d.retrain
    assert "no data" in d.reasons[0]
    ws = windows_from([True, True, None, True, True])
    assert not decide("m", ws, p, as_of=as_of(ws), last_run=None).retrain


def test_cooldown_blocks_and_then_expires():
    p = TriggerPolicy()
    ws = windows_from([True] * 5)
    d = decide("m", ws, p, as_of=as_of(ws), last_run=run_at(2, ws))
    assert not d.retrain and d.drift_due
    assert d.cooldown_until == as_of(ws) + dt.timedelta(days=5)
    assert "cool-down" in d.reasons[0]
    assert d.to_dict()["cooldown_until"] == d.cooldown_until.isoformat()
    d = decide("m", ws, p, as_of=as_of(ws), last_run=run_at(8, ws))
    assert d.retrain and d.cooldown_until is None
    assert any("has passed" in r for r in d.reasons)


def test_schedule_is_optional_and_respects_cooldown():
    ws = windows_from([False] * 5)
    assert not decide("m", ws, TriggerPolicy(), as_of=as_of(ws), last_run=run_at(40, ws)).retrain
    p = TriggerPolicy(schedule_days=30)
    d = decide("m", ws, p, as_of=as_of(ws), last_run=run_at(40, ws))
    assert d.retrain and d.schedule_due and "scheduled retraining every 30 days" in d.reasons[0]
    assert not decide("m", ws, p, as_of=as_of(ws), last_run=run_at(10, ws)).retrain
    assert decide("m", ws, p, as_of=as_of(ws), last_run=None).retrain  # never retrained


def test_performance_breach_alone_counts():
    ws = windows_from([False, False, False])
    for w in ws:
        w.performance, w.performance_drop, w.performance_breach = 0.7, 0.1, True
    d = decide("m", ws, TriggerPolicy(), as_of=as_of(ws), last_run=None, metric="roc_auc", reference_performance=0.8)
    assert d.retrain
    assert any("roc_auc dropped in 3 of them by 0.100 vs" in r for r in d.reasons)  # one value, not 0.100–0.100
    ws[0].performance_drop = 0.2
    d = decide("m", ws, TriggerPolicy(), as_of=as_of(ws), last_run=None, metric="roc_auc", reference_performance=0.8)
    assert any("roc_auc dropped in 3 of them by 0.100–0.200 vs" in r for r in d.reasons)


def test_json_shape_has_the_spec_keys():
    ws = windows_from([True, True, True])
    doc = decide("m", ws, TriggerPolicy(), as_of=as_of(ws), last_run=None).to_dict()
    assert {"model", "retrain", "reasons", "windows", "cooldown_until"} <= set(doc)
    assert {"start", "end", "drift_share", "drifted_features", "performance", "breach"} <= set(doc["windows"][0])


@hsettings(max_examples=200, deadline=None)
@given(
    flags=st.lists(st.sampled_from([True, False, None]), min_size=1, max_size=30),
    n=st.integers(1, 6),
    cooldown=st.integers(0, 10),
    last=st.one_of(st.none(), st.integers(0, 20)),
)
def test_retrain_iff_last_n_windows_breached_and_no_cooldown(flags, n, cooldown, last):
    p = TriggerPolicy(consecutive_windows=n, cooldown_days=cooldown, lookback_windows=max(n, 30))
    ws = windows_from(flags)
    run = None if last is None else run_at(last, ws)
    d = decide("m", ws, p, as_of=as_of(ws), last_run=run)
    trailing = flags[-n:] if len(flags) >= n else None
    persisted = trailing is not None and all(f is True for f in trailing)
    in_cooldown = run is not None and last < cooldown
    assert d.retrain == (persisted and not in_cooldown)
    assert (d.cooldown_until is not None) == in_cooldown
    assert d.reasons  # every decision is explained


def test_the_reasons_name_one_drift_share_when_every_window_had_it():
    ws = windows_from([True, True, True])
    d = decide("m", ws, TriggerPolicy(), as_of=as_of(ws), last_run=None)
    assert any("drift share 0.60 >= 0.5" in r for r in d.reasons), d.reasons
    ws[1].drift_share = 0.8
    d = decide("m", ws, TriggerPolicy(), as_of=as_of(ws), last_run=None)
    assert any("drift share 0.60–0.80 >= 0.5" in r for r in d.reasons), d.reasons
