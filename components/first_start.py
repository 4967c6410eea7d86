"""The demo workspace's first start, on screen at once.

On a fresh ``DRIFTGATE_HOME`` the first request seeds the demo (tens of seconds). The pages import
MLflow, Plotly and the drift engine at their top, which alone takes seconds on a loaded machine;
the browser showed a blank white page all that time. So every page imports this module first
(``import components.first_start``, before its other first-party imports): in the process's first
script run it draws the seeding status and seeds, before anything heavy is imported. Later runs
(another session while seeding, a reset workspace) are handled by :func:`seed_with_progress` from
``components.shell.load_context_settings``.

Light imports only (Streamlit, the settings, the seeding module): that is the point of the module.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from services.config import Settings, load_settings
from services.demo import seed as demo
from services.errors import DriftGateError

STATUS_LABEL = "Preparing the demo workspace (first start)…"


def seed_with_progress(settings: Settings) -> None:
    """Seed the demo workspace under a status box with a progress bar (each seeding step)."""
    with st.status(STATUS_LABEL, expanded=True) as status:
        bar = st.progress(0.0, text="Loading the libraries (MLflow, scikit-learn)")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        demo.ensure_demo(settings, progress=progress)
        status.update(label="Demo workspace ready", state="complete", expanded=False)


def show_first_start() -> None:
    """Seed with progress when this is a Streamlit script run on an unseeded demo workspace."""
    if get_script_run_ctx() is None:  # imported by a test or a tool, not by a page
        return
    try:
        settings = load_settings()
    except DriftGateError:
        return  # the page shell reports the configuration error
    if settings.demo and not demo.is_seeded(settings.home):
        seed_with_progress(settings)


show_first_start()
