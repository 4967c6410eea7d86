"""The shared page shell: page config, workspace, identity, navigation.

Every page file (``app.py`` included) calls :func:`page_shell` first. Pages are file-based
(spec: a ``pages/`` folder puts Streamlit 1.67 in file-based mode, so ``st.navigation`` would never
run on a deep link); the automatic sidebar list is hidden in ``.streamlit/config.toml`` and the
shell draws the navigation itself with ``st.page_link``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import streamlit as st
from mlflow import MlflowClient

from components.first_start import seed_with_progress
from components.identity import current_user, identity_source, navigation_params
from components.text import md
from services.config import Settings, load_settings
from services.demo import seed as demo
from services.errors import DriftGateError
from services.registry.mlflow_client import check_reachable, make_client

# (file, navigation title, icon) in navigation order; titles and paths are fixed by the spec.
PAGES = (
    ("app.py", "Overview", ":material/dashboard:"),
    ("pages/drift.py", "Drift", ":material/ssid_chart:"),
    ("pages/runs.py", "Retraining runs", ":material/model_training:"),
    ("pages/leaderboard.py", "Leaderboard", ":material/leaderboard:"),
    ("pages/promotions.py", "Promotions", ":material/verified:"),
)
_ENV_KEYS = (
    "DRIFTGATE_HOME",
    "DRIFTGATE_CONFIG",
    "DRIFTGATE_USER",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "DATABRICKS_HOST",
    "DATABRICKS_HTTP_PATH",
    "DATABRICKS_TOKEN",
)


@dataclass
class PageContext:
    settings: Settings
    client: MlflowClient
    user: str | None
    demo: bool
    model: str | None
    mlflow_ok: bool
    identity: str | None = None  # how ``user`` was established (audit ``identity``)


def _env_key() -> tuple[str, ...]:
    # The cache key is the configuration's inputs, so a changed environment (tests) rebuilds.
    # Values are hashed by Streamlit, never shown.
    return tuple(os.environ.get(k, "") for k in _ENV_KEYS) + (os.getcwd(),)


@st.cache_resource(show_spinner=False)
def _settings(env_key: tuple[str, ...]) -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False)
def _client(tracking_uri: str, registry_uri: str, _settings_obj: Settings) -> MlflowClient:
    return make_client(_settings_obj)


@st.cache_data(ttl=30, max_entries=8, show_spinner=False)
def _reachability(tracking_uri: str, _settings_obj: Settings) -> str | None:
    try:
        check_reachable(_settings_obj)
    except DriftGateError as exc:
        return str(exc)
    return None


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def _registered_models(tracking_uri: str, registry_uri: str, _client_obj: MlflowClient) -> list[str]:
    try:
        return sorted(m.name for m in _client_obj.search_registered_models(max_results=200))
    except Exception:
        return []


def load_context_settings() -> Settings:
    """Settings for this process, seeding the demo workspace first if it is not ready."""
    settings = _settings(_env_key())
    if settings.demo and not demo.is_seeded(settings.home):
        seed_with_progress(settings)
        _settings.clear()  # the demo config carries the seeded dates
        settings = _settings(_env_key())
    return settings


def _model_choice(settings: Settings, client: MlflowClient, mlflow_ok: bool) -> str | None:
    names = list(settings.models)
    if mlflow_ok:
        names += [n for n in _registered_models(settings.tracking_uri, settings.registry_uri, client) if n not in names]
    if not names:
        return None
    # Query parameter first (a shared link), then this session's last choice (a page opened
    # without ?model=), else the first model.
    state = st.session_state
    wanted = st.query_params.get("model")
    if wanted in names:
        state["dg_model"] = wanted
    elif state.get("dg_model") not in names:
        choice = state.get("dg_model_choice")
        state["dg_model"] = choice if choice in names else names[0]

    def changed() -> None:  # the widget's new value goes to the URL before the rerun reads it
        st.query_params["model"] = state["dg_model"]

    model = st.sidebar.selectbox("Model", names, key="dg_model", on_change=changed)
    state["dg_model_choice"] = model
    if st.query_params.get("model") != model:
        st.query_params["model"] = model
    return model


def _navigation(params: dict[str, str]) -> None:
    st.markdown("### DriftGate")
    for path, title, icon in PAGES:
        st.page_link(path, label=title, icon=icon, query_params=params or None)


# Pages whose imports are frozen out of the garbage collector (see :func:`_freeze_imports`).
_FROZEN: set[str] = set()


def _freeze_imports(title: str) -> None:
    """Move everything allocated so far (mlflow, pandas, plotly, duckdb: millions of objects) out
    of the cyclic garbage collector's view, once per page per process, right after that page's
    imports. Without it a rerun's allocations triggered full collections over that heap: a widget
    change in a fragment took 0.50 s instead of 0.18 s (bench/page_speed.py). At most one freeze
    per page, so what is frozen stays bounded."""
    if title not in _FROZEN:
        _FROZEN.add(title)
        gc.freeze()


def page_shell(title: str, *, layout: Literal["centered", "wide"] = "wide") -> PageContext:
    """Set up the page; returns the context every page works with."""
    _freeze_imports(title)
    st.set_page_config(page_title=f"{title} · DriftGate", page_icon=":material/verified:", layout=layout)
    try:
        settings = load_context_settings()
    except DriftGateError as exc:
        st.error(str(exc))
        st.stop()
    client = _client(settings.tracking_uri, settings.registry_uri, settings)
    problem = _reachability(settings.tracking_uri, settings)
    nav = st.sidebar.container()  # drawn first, filled once the model is known
    model = _model_choice(settings, client, problem is None)
    user = current_user(settings)
    identity = identity_source(settings, user)
    with nav:
        _navigation(navigation_params(model, user, settings))
    with st.sidebar:
        info = settings.describe()
        st.caption(f"Workspace: **{info['workspace']}** · lifecycle: {info['lifecycle']}")
        st.caption(f"Tracking: `{info['tracking'] if not settings.demo else Path(settings.home).name + '/mlflow.db'}`")
    st.title(title)
    if problem:
        st.error(problem)
    return PageContext(
        settings=settings,
        client=client,
        user=user,
        demo=settings.demo,
        model=model,
        mlflow_ok=problem is None,
        identity=identity,
    )


def show_error(exc: BaseException) -> None:
    """One line for a user-caused or environmental error; never a traceback."""
    text = str(exc) if isinstance(exc, DriftGateError) else f"{type(exc).__name__}: {exc}".splitlines()[0]
    st.error(md(text, limit=None))  # messages quote user input (a column, a run id): escaped


@contextmanager
def shown_errors(*, stop: bool = False, note: str | None = None) -> Iterator[None]:
    """Run a block; a :class:`DriftGateError` in it becomes one error line on the page (see
    :func:`show_error`), then a caption ``note`` if given. With ``stop=True`` the page ends there
    (``st.stop``), else the page goes on after the block (what the block assigns may be unset:
    give defaults before it).

    One home for the pages' ``except DriftGateError: show_error(exc); st.stop()``."""
    try:
        yield
    except DriftGateError as exc:
        show_error(exc)
        if note:
            st.caption(note)
        if stop:
            st.stop()
