"""Chart colours that stay readable in the user's theme (Streamlit follows the browser's light or
dark setting; ``.streamlit/config.toml`` sets no ``base``). Plotly charts use Streamlit's template
(``theme="streamlit"``), which already switches background, grid and text; the lines we draw
ourselves (reference and threshold lines, outlines, error bars) take their colour from here."""

from __future__ import annotations

import streamlit as st

# On white (#ffffff) and on Streamlit's dark background (#0e1117) each pair keeps >= 4.5:1.
_INK = {"light": "#111827", "dark": "#e5e7eb"}  # outlines, error bars: the text colour
_REFERENCE = {"light": "#374151", "dark": "#d1d5db"}  # champion / reference lines
_THRESHOLD = {"light": "#4b5563", "dark": "#9ca3af"}  # threshold lines


def theme_type() -> str:
    """ "dark" or "light" (the default when the browser has not said, e.g. in unit tests)."""
    try:
        kind = st.context.theme.type
    except Exception:  # no script run (a unit test of a figure builder)
        kind = None
    return "dark" if kind == "dark" else "light"


def ink() -> str:
    return _INK[theme_type()]


def reference_line() -> str:
    return _REFERENCE[theme_type()]


def threshold_line() -> str:
    return _THRESHOLD[theme_type()]
