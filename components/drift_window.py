"""The Drift page's window selection from the query string: validated, one clear line on bad input."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from components.text import md


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
