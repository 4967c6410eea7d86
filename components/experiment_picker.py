"""The experiment picker shared by the Retraining runs and Leaderboard pages (``?experiment=``)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components import leaderboard_data as data
from components.query_choice import pick_option
from components.shell import PageContext, shown_errors
from services.registry.runs import model_settings_for_experiment


def pick_experiment(ctx: PageContext, where: Any = st) -> tuple[str, dict[str, Any]]:
    """Select an experiment: the ``experiment`` query parameter, else the selected model's
    configured experiment, else the first. Synced back to the URL; ends the page when the tracking
    server has no experiments. Returns the name and its ``[models.<name>]`` settings (or ``{}``)."""
    with shown_errors(stop=True):
        names = [e.name for e in data.experiments(ctx)]
    if not names:
        st.info("This tracking server has no experiments yet.")
        st.stop()
    wanted = st.query_params.get("experiment") or str(ctx.settings.model(ctx.model or "").get("experiment") or "")
    experiment = pick_option(
        where,
        "Experiment",
        names,
        wanted=wanted,
        default=names[0],
        key="dg_experiment",
        param="experiment",
        unknown="experiment '{wanted}' not found; showing '{shown}'",
    )
    _, cfg = model_settings_for_experiment(ctx.settings, experiment)
    return experiment, cfg
