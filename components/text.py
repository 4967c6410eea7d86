"""Text shown through markdown: the one escape helper for every user- or MLflow-supplied string.

``st.markdown``, ``st.caption``, ``st.warning``/``st.info``/``st.error``/``st.success`` and widget
labels render markdown: a query parameter, a run tag or a comment could otherwise inject a live
link (``[text](url)``), a remote image (``![x](url)``), HTML or emphasis. :func:`md` escapes every
markdown/HTML control character so the value is shown literally.
"""

from __future__ import annotations

import re

_MD = re.compile(r"([\\`*_{}\[\]()<>#|~$!+\-.=:^&\"'])")
_SPACE = re.compile(r"[\r\n\t\f\v]+")


def md(text: object, limit: int | None = 300) -> str:
    """``text`` escaped for markdown, on one line, cut to ``limit`` characters (None: no cut)."""
    value = _SPACE.sub(" ", str(text))
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return _MD.sub(r"\\\1", value)


def code(text: object, limit: int | None = 300) -> str:
    """``text`` as inline code that no backtick in it can close (still one line, cut)."""
    value = _SPACE.sub(" ", str(text))
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"
