"""The Drift page's window selection: its widgets, synced to the query string (``days`` |
``start`` + ``end``, ``unit``), validated, one clear line on bad input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import streamlit as st

from components.text import md

DAY_OPTIONS = [1, 3, 7, 14, 30]


def parse_days(raw: object, options: Sequence[int], default: int = 7) -> tuple[int, str | None]:
    """``?days=`` as one of ``options``; anything else (letters, ``²``, 5,000 digits, a value not
    offered) gives the default and a one-line reason."""
    if raw is None or raw == "":
        return default, None
    text = str(raw).strip()
    shown = md(text, limit=24)
    choices = ", ".join(map(str, options))
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return default, f"days={shown} is not a number of days ({choices}); showing the last {default} days."
    value = int(text)
    if value not in options:
        return default, f"days={shown} is not offered ({choices}); showing the last {default} days."
    return value, None


def default_range(
    start: str | None, end: str | None, last_day: date, first_day: date | None = None, days: int = 7
) -> tuple[tuple[date, date], str | None]:
    """``?start=&end=`` when both are valid ISO dates (in order) and overlap the data, else the last
    ``days`` days that have data (ending at ``last_day``, the newest day of the scoring log); with a
    one-line note when the asked range was replaced or cut to the days that have data."""
    lo = last_day - timedelta(days=days - 1)
    fallback = (max(lo, first_day) if first_day else lo, last_day)
    if start is None and end is None:
        return fallback, None
    span = f"the scoring log has rows from {first_day or '…'} to {last_day}"
    try:
        asked = (date.fromisoformat(str(start)), date.fromisoformat(str(end)))
    except (TypeError, ValueError):
        return fallback, (
            f"start={md(start, 24)}, end={md(end, 24)} is not a date range (YYYY-MM-DD); "
            f"showing {fallback[0]} to {fallback[1]}."
        )
    if asked[0] > asked[1]:
        return fallback, f"the range starts after it ends; showing {fallback[0]} to {fallback[1]}."
    clipped = (max(asked[0], first_day) if first_day else asked[0], min(asked[1], last_day))
    if clipped[0] > clipped[1]:
        return fallback, f"No rows from {asked[0]} to {asked[1]}: {span}; showing {fallback[0]} to {fallback[1]}."
    if clipped != asked:
        return clipped, f"{span}: showing {clipped[0]} to {clipped[1]}."
    return asked, None


@dataclass(frozen=True)
class PickedWindow:
    """The current window: the last ``days`` days with data, or ``start``..``end``; and the size
    of each window of the over-time charts."""

    start: date | None
    end: date | None
    days: int | None
    unit: str


def pick_window(first_day: date | None, last_day: date | None) -> PickedWindow:
    """Draw the current-window pickers (mode, days or date range, window unit) and write the choice
    to the URL. Each widget has a key: a keyless widget's identity includes its default, and a
    default read from the URL the widget writes changed it after each pick, so every second pick
    snapped back (tests/drift/test_page_drift.py)."""
    qp = st.query_params
    c1, c2, c3 = st.columns([2, 3, 1])
    mode = c1.radio(
        "Current window",
        ["Last N days", "Date range"],
        horizontal=True,
        index=1 if qp.get("start") else 0,
        help="The current window is compared with the reference window (below).",
        key="dg_drift_mode",
    )
    start = end = days = None
    if mode == "Last N days":
        wanted, problem = parse_days(qp.get("days"), DAY_OPTIONS, default=7)
        if problem:
            st.warning(problem)
        days = c2.select_slider(
            "days",
            DAY_OPTIONS,
            value=wanted,
            help="the last N days that have data (up to the newest row of the scoring log)",
            key="dg_drift_days",
        )
        qp["days"] = str(days)
        for stale in ("start", "end"):
            qp.pop(stale, None)
    else:
        default, problem = default_range(qp.get("start"), qp.get("end"), last_day or date.today(), first_day)
        if problem:
            st.warning(problem)
        picked = c2.date_input(
            "from – to",
            value=default,
            min_value=first_day,
            max_value=last_day,
            help="inclusive days; defaults to the last 7 days that have data",
            key="dg_drift_range",
        )
        if len(picked) != 2:
            st.info("Pick the last day of the range.")
            st.stop()
        start, end = picked
        qp["start"], qp["end"] = start.isoformat(), end.isoformat()
        qp.pop("days", None)
    unit = c3.selectbox(
        "Windows",
        ["day", "week"],
        index=1 if qp.get("unit") == "week" else 0,
        help="size of each window in the drift-over-time charts",
        key="dg_drift_unit",
    )
    qp["unit"] = unit
    return PickedWindow(start=start, end=end, days=days, unit=unit)
