"""A selectbox that opens on what a link asked for, and says so when it cannot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from components.text import md


def pick_option(
    where: Any,
    label: str,
    options: Sequence[str],
    *,
    wanted: str | None,
    default: str,
    key: str,
    param: str,
    unknown: str,
) -> str:
    """``where.selectbox(label, options)`` opening on ``wanted`` when it is one of ``options``,
    else on ``default`` (one of them). A ``wanted`` that is not an option gets one warning,
    ``unknown`` formatted with ``wanted`` and the option shown (both escaped). The choice is
    written to the URL's ``param``."""
    start = wanted if wanted is not None and wanted in options else default
    choice: str = where.selectbox(label, list(options), index=list(options).index(start), key=key)
    if wanted and wanted not in options:
        st.warning(unknown.format(wanted=md(wanted), shown=md(choice)))
    st.query_params[param] = choice
    return choice
