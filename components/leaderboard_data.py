"""Cached access to the runs/leaderboard services for the pages (short TTL, small hashable keys).

The MLflow client and settings are passed as ``_``-prefixed arguments (not hashed); the cache key
is the tracking/registry URI plus the selection. Errors are not cached (Streamlit re-raises them),
so a server that comes back is picked up on the next rerun.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.compare import leaderboard as lb
from services.compare import shap as sc
from services.registry import model_versions
from services.registry import runs as rs


def key_of(ctx: Any) -> str:
    return f"{ctx.settings.tracking_uri}|{ctx.settings.registry_uri}"


@st.cache_data(ttl=30, max_entries=16, show_spinner=False)
def _experiments(key: str, _client: Any) -> list[rs.ExperimentRow]:
    return rs.list_experiments(_client)


def experiments(ctx: Any) -> list[rs.ExperimentRow]:
    return _experiments(key_of(ctx), ctx.client)


@st.cache_data(ttl=30, max_entries=32, show_spinner=False)
def _retraining(key: str, experiment: str, metric: str | None, greater: bool, _client: Any) -> rs.RetrainingView:
    return rs.retraining_runs(_client, experiment, metric, greater)


def retraining(ctx: Any, experiment: str, metric: str | None, greater: bool) -> rs.RetrainingView:
    return _retraining(key_of(ctx), experiment, metric, greater, ctx.client)


# experiment, metric, parent run, greater is better, filter, guard metrics
BoardQuery = tuple[str, str, str | None, bool, str, tuple[str, ...] | None]


@st.cache_data(ttl=30, max_entries=32, show_spinner=False)
def _board(key: str, query: BoardQuery, _client: Any) -> lb.Leaderboard:
    experiment, metric, parent, greater, flt, guards = query
    return lb.build_leaderboard(
        _client,
        experiment,
        metric,
        parent_run=parent,
        greater_is_better=greater,
        filter_string=flt,
        guard_metrics=guards,
    )


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _board_with_intervals(key: str, query: BoardQuery, _client: Any) -> lb.Leaderboard:
    return lb.with_intervals(_client, _board(key, query, _client))


def board(
    ctx: Any,
    experiment: str,
    metric: str,
    parent: str | None,
    greater: bool,
    flt: str = "",
    guards: tuple[str, ...] | None = None,
    intervals: bool = False,
) -> lb.Leaderboard:
    """The leaderboard (cached 30 s); ``intervals``: with the bootstrap intervals of Δ vs the
    champion (cached 5 min)."""
    load = _board_with_intervals if intervals else _board
    return load(key_of(ctx), (experiment, metric, parent, greater, flt, guards), ctx.client)


@st.cache_data(ttl=30, max_entries=64, show_spinner=False)
def _run(key: str, run_id: str, _client: Any) -> rs.RunRow:
    return rs.get_run(_client, run_id)


def run(ctx: Any, run_id: str) -> rs.RunRow:
    return _run(key_of(ctx), run_id, ctx.client)


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def _history(key: str, run_id: str, keys: tuple[str, ...], _client: Any) -> list[dict]:
    return rs.metric_history(_client, run_id, keys)


def history(ctx: Any, run_id: str, keys: tuple[str, ...]) -> list[dict]:
    return _history(key_of(ctx), run_id, tuple(keys), ctx.client)


@st.cache_data(ttl=30, max_entries=16, show_spinner=False)
def _versions(key: str, model: str, lifecycle: str, _client: Any) -> model_versions.VersionsView:
    return model_versions.versions_comparison(_client, model, lifecycle)


def versions(ctx: Any, model: str) -> model_versions.VersionsView:
    return _versions(key_of(ctx), model, ctx.settings.lifecycle, ctx.client)


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _shap(
    key: str, model: str, candidate: str, champion: str, n_rows: int, _client: Any, _settings: Any
) -> sc.ShapComparison:
    return sc.compare_versions(_client, _settings, model, candidate, champion, n_rows=n_rows)


def shap(ctx: Any, model: str, candidate: str, champion: str, n_rows: int = 1000) -> sc.ShapComparison:
    return _shap(key_of(ctx), model, str(candidate), str(champion), int(n_rows), ctx.client, ctx.settings)


def shap_is_cached(ctx: Any, model: str, candidate: str, champion: str) -> bool:
    """Whether the page already computed this comparison in this session (shown without a click)."""
    done = st.session_state.setdefault("dg_shap_done", set())
    return (key_of(ctx), model, str(candidate), str(champion)) in done


def mark_shap(ctx: Any, model: str, candidate: str, champion: str) -> None:
    st.session_state.setdefault("dg_shap_done", set()).add((key_of(ctx), model, str(candidate), str(champion)))
