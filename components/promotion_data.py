"""Cached reads for the Promotions page (small hashable keys; cleared after every decision)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.identity import forwarded_token
from services.promotion import audit
from services.promotion.gate import GateResult, evaluate
from services.registry.lifecycle import RegistryState, VersionView, make_lifecycle
from services.registry.mlflow_client import is_databricks_registry, make_user_client
from services.registry.runs import mlflow_ui_links


def _key(ctx) -> tuple:
    s = ctx.settings
    return (s.tracking_uri, s.registry_uri, s.lifecycle, str(s.config_path), str(s.home))


@st.cache_data(ttl=15, max_entries=32, show_spinner=False)
def _registry(key: tuple, model: str, _ctx) -> tuple[list[VersionView], RegistryState]:
    lc = make_lifecycle(_ctx.settings, _ctx.client, model)
    return lc.versions(), lc.state()


def registry(ctx, model: str) -> tuple[list[VersionView], RegistryState]:
    return _registry(_key(ctx), model, ctx)


@st.cache_data(ttl=60, max_entries=32, show_spinner="Evaluating the gate…")
def _gate(key: tuple, model: str, version: str, champion: str, fingerprint: str, _ctx) -> GateResult:
    return evaluate(_ctx.settings, _ctx.client, model, version)


def gate(ctx, model: str, version: VersionView, state: RegistryState) -> GateResult:
    # The version's tags and the champion are part of the key: any decision re-evaluates.
    fingerprint = f"{version.state}|{version.stage}|{sorted(version.tags.items())}"
    return _gate(_key(ctx), model, version.version, state.token, fingerprint, ctx)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _run_experiment(key: tuple, run_id: str, _ctx) -> str | None:
    try:
        return _ctx.client.get_run(run_id).info.experiment_id
    except Exception:
        return None


def ui_links(ctx, model: str, view: VersionView) -> dict[str, str]:
    """Links to the version and its source run in the tracking server's UI (none for a local store)."""
    probe = mlflow_ui_links(ctx.settings, model, view.version, "x", "x")
    if not probe:
        return {}
    exp = _run_experiment(_key(ctx), view.run_id, ctx) if view.run_id else None
    return mlflow_ui_links(ctx.settings, model, view.version, view.run_id, exp)


def decision_client(ctx):
    """The client a decision runs with. On Databricks: the signed-in user's own token (forwarded by
    Databricks Apps) so workspace permissions apply; built per call (no network, ~0.1 ms), never
    cached across users. Elsewhere: the page's shared client."""
    token = forwarded_token()
    if token and is_databricks_registry(ctx.settings):
        return make_user_client(ctx.settings, token)
    return ctx.client


def records(ctx, model: str | None, limit: int = 1000) -> list[dict[str, Any]]:
    """The audit log (a local or shared SQL store: cheap, not cached so decisions show at once)."""
    return audit.query(ctx.settings, model=model, limit=limit)


def clear() -> None:
    _registry.clear()
    _gate.clear()
