"""Table helpers shared by the pages: missing values as an em dash whose column tooltip says why."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from components.text import md

DASH = "—"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def dashed(frame: pd.DataFrame, column: str, fmt: Callable[[Any], str]) -> pd.DataFrame:
    """``column`` as display text: ``fmt(value)``, or an em dash where the value is missing."""
    if column in frame:
        frame[column] = [DASH if _missing(v) else fmt(v) for v in frame[column]]
    return frame


def utc_minute(iso: object) -> str:
    """An ISO timestamp as the pages show times: ``2026-10-03 07:00 UTC`` (an em dash when missing;
    the text itself when it is not a timestamp)."""
    return _utc(iso, "%Y-%m-%d %H:%M")


def utc_second(iso: object) -> str:
    """Like :func:`utc_minute` to the second (``2026-12-02 05:59:58 UTC``): decisions seconds apart."""
    return _utc(iso, "%Y-%m-%d %H:%M:%S")


def _utc(iso: object, fmt: str) -> str:
    if _missing(iso) or iso == "":
        return DASH
    try:
        t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return f"{t.strftime(fmt)} UTC"


def stage_text(stage: object) -> str:
    """A registry stage as shown: MLflow's "None" (no stage; the aliases lifecycle never sets one)
    is an em dash, not the word."""
    return DASH if stage is None or stage in ("", "None") else str(stage)


def num(pattern: str) -> Callable[[Any], str]:
    return lambda v: format(float(v), pattern)


# Pixels per character of the grid's 14 px sans-serif text (a generous average, digits and
# capitals included) and the cell's horizontal padding + sort-icon room.
CHAR_PX = 8.5
CELL_PAD_PX = 34


def text_px(text: str) -> int:
    """The width a cell needs to show ``text`` uncut (an upper estimate)."""
    return int(len(text) * CHAR_PX + CELL_PAD_PX)


def _text(v: Any) -> str:
    if _missing(v):
        return DASH
    if isinstance(v, float):
        return format(v, ".4f")  # number columns show at most 4 decimals
    return str(v)


def fitted(
    frame: pd.DataFrame, config: dict[str, Any] | None = None, *, cap_px: int = 520, shown: dict[str, str] | None = None
) -> dict[str, Any]:
    """``config`` (st.dataframe column_config) with each column's width set to what its header and
    its longest value need, at most ``cap_px`` (longer text: see :func:`overflow`). ``shown``:
    display text per column when a column is not shown as ``str(value)``."""
    out: dict[str, Any] = dict(config or {})
    for col in frame.columns:
        entry = out.get(col)
        if entry is None:
            entry = {}
        elif not isinstance(entry, dict):
            continue  # a plain label string or None (hidden): leave as configured
        label = str(entry.get("label") or col)
        values = [shown[col]] if shown and col in shown else [_text(v) for v in frame[col]]
        need = max([text_px(label) + 16, *(text_px(v) for v in values)])  # + 16: the header's help icon
        out[col] = {**entry, "width": min(cap_px, need)}
    return out


def overflow(frame: pd.DataFrame, column: str, cap_px: int = 520) -> list[str]:
    """The values of ``column`` too long for a capped column: to be shown in full elsewhere."""
    if column not in frame:
        return []
    return [str(v) for v in frame[column] if not _missing(v) and text_px(str(v)) > cap_px]


def show_in_full(where: Any, frame: pd.DataFrame, cap_px: int = 520, row_label: str | None = None) -> None:
    """Under a table sized by :func:`fitted`: the text values too long for their column, in full
    (an expander), each named by its column and row (``row_label``'s value, else its position)."""
    long = [
        (str(frame[row_label].iloc[i]) if row_label else str(i + 1), str(col), str(v))
        for col in frame.columns
        for i, v in enumerate(frame[col])
        if isinstance(v, str) and text_px(v) > cap_px
    ]
    if not long:
        return
    box = where.expander(f"{len(long)} value(s) too long for the table, in full")
    for row, col, value in long:
        box.markdown(f"**{md(row)} · {md(col)}:** {md(value, limit=None)}")
