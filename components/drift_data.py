"""Cached calls of the Drift page. Keys are small hashables (workspace key, model, window);
the Settings / client objects ride along unhashed (leading underscore)."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from services.config import ReferenceWindow
from services.drift import champion_importance, drift_over_time, model_drift_report, performance_over_time
from services.drift import model as drift_model
from services.drift.estimation import estimated_performance
from services.drift.reference_window import Reference, choose_reference
from services.errors import DriftGateError
from services.promotion import audit

TTL = 300


def decisions_key(settings) -> int:
    """The newest audit record's id: it changes with every decision, from the page or the CLI. A
    promotion changes the champion and so the reference window and metric: whatever was cached
    against the old champion is not shown after it."""
    try:
        return audit.latest_id(settings)
    except DriftGateError:  # an unreadable audit store: the TTL alone bounds staleness
        return 0


def workspace_key(settings) -> tuple:
    return (str(settings.home), str(settings.config_path), settings.tracking_uri, decisions_key(settings))


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def importance(key: tuple, model: str, run_id: str | None, _settings, _client) -> dict[str, float] | None:
    """The champion's logged importances (``run_id``: its run when the reference rule already found
    it, so the champion is not looked up a second time)."""
    return champion_importance(_client, _settings, model, run_id=run_id)


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def reference(key: tuple, model: str, _settings, _client) -> Reference:
    """The reference window of every section of the page: the trigger's rule (the champion's
    training window or the configured one). ``key`` holds the newest decision: a promotion
    changes it."""
    return choose_reference(_settings, model, _client)


@st.cache_data(ttl=TTL, max_entries=32, show_spinner="Testing features…")
def report(
    key: tuple,
    model: str,
    ref: ReferenceWindow | None,
    start: date | None,
    end: date | None,
    days: int | None,
    targets: bool,
    imp: tuple | None,
    _settings,
    only: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    data = drift_model.model_data(_settings, model)
    window = drift_model.current_window(_settings, data, start=start, end=end, days=days)
    return model_drift_report(
        _settings,
        model,
        reference_window=ref,
        current=window,
        targets=targets,
        distributions=True,
        importance=dict(imp) if imp else None,
        features=list(only) if only else None,
    )


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def data_dates(key: tuple, model: str, _settings) -> tuple[date | None, date | None]:
    """First and last day with rows in the model's scoring log."""
    return drift_model.data_dates(_settings, model)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def latest_labelled_day(key: tuple, model: str, _settings) -> date | None:
    """The newest day with labelled rows (labels arrive late), None when none has any."""
    try:
        perf = performance_over_time(_settings, model, unit="day")
    except Exception:
        return None
    days = [w["start"] for w in perf["windows"] if w.get("labelled")]
    return date.fromisoformat(days[-1]) if days else None


def target_columns(settings, model: str) -> tuple[str | None, str | None]:
    cfg = settings.model(model)
    return cfg.get("prediction"), cfg.get("label")


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Computing drift per window…")
def over_time(
    key: tuple, model: str, ref: ReferenceWindow | None, unit: str, targets: bool, imp: tuple | None, _settings
) -> dict[str, Any]:
    return drift_over_time(
        _settings, model, unit=unit, targets=targets, importance=dict(imp) if imp else None, reference=ref
    )


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Computing performance per window…")
def performance(key: tuple, model: str, ref: ReferenceWindow | None, unit: str, _settings) -> dict[str, Any]:
    return performance_over_time(_settings, model, unit=unit, reference=ref)


@st.cache_data(ttl=TTL, max_entries=16, show_spinner="Estimating performance for unlabelled windows…")
def estimates(key: tuple, model: str, ref: ReferenceWindow | None, unit: str, _settings) -> dict[str, Any]:
    return estimated_performance(_settings, model, unit=unit, reference=ref)
