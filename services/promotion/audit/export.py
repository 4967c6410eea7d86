"""What the audit records are shown as: the spec's record shape, a spreadsheet-safe CSV export,
and the champion history (MLflow keeps none)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.registry import tags
from services.registry.views import registered_at

RECORD_KEYS = (
    "at",
    "user",
    "action",
    "outcome",
    "model",
    "version",
    "reason",
    "comment",
    "version_before",
    "version_after",
    "identity",
)
"""The fields a person is shown of an audit record (CLI ``audit`` / decision JSON, the page's
table, its CSV export): the spec's ``audit`` keys first, then before/after and ``identity``."""


def spec_record(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` as the spec's ``audit`` JSON lists it (:data:`RECORD_KEYS`; extra keys are allowed)."""
    return {k: rec.get(k) for k in RECORD_KEYS}


# -- export --------------------------------------------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+``, ``-``, ``@``,
    tab, CR) gets a leading ``'``: shown as text, never evaluated (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_export(frame: Any) -> bytes:
    """The audit table (a pandas DataFrame) as CSV bytes with every text cell made inert."""
    safe = frame.copy()
    for col in safe.columns:
        safe[col] = safe[col].astype(object).map(csv_cell)  # any dtype: non-text cells pass through
    safe.columns = [csv_cell(str(c)) for c in safe.columns]
    return bytes(safe.to_csv(index=False).encode())


# -- champion history (MLflow keeps none) ---------------------------------------------------------
def champion_history(records: list[dict[str, Any]], versions: list[Any], now: str) -> list[dict[str, Any]]:
    """Which version was champion from when to when: ``[{"version", "start", "end", "via"}]``.

    Built from the ``done`` approve/rollback records (oldest first) and the registry: the first
    champion starts at its ``driftgate.champion_since`` tag or its creation time; the current
    champion's segment ends at ``now``. ``versions``: VersionView-like objects (version, state,
    tags, created_at).
    """
    by_v = {str(v.version): v for v in versions}
    events = sorted(
        (
            r
            for r in records
            if r.get("outcome") == "done"
            and r.get("action") in ("approve", "rollback")
            and r.get("version_after")
            and r.get("version_before") != r.get("version_after")
        ),
        key=lambda r: r.get("at") or "",
    )

    def since(v: str | None) -> str | None:
        view = by_v.get(str(v)) if v else None
        if view is None:
            return None
        return tags.champion_since(view.tags) or registered_at(view)

    segments: list[dict[str, Any]] = []
    if not events:
        champ = next((v for v in versions if v.state == "champion"), None)
        if champ is not None:
            segments.append(
                {"version": champ.version, "start": since(champ.version) or now, "end": now, "via": "registry"}
            )
        return segments
    first = events[0].get("version_before")
    if first:
        # The champion before DriftGate's first decision: since its champion_since tag (the demo's
        # seeded history included) or its registration, never later than that first decision.
        start = since(first)
        if start and _instant(start) > _instant(events[0]["at"]):
            # Its tag was rewritten when it became champion again later (a rollback to it): the
            # earlier period began no sooner than its registration.
            view = by_v.get(str(first))
            start = registered_at(view) if view is not None else None
        if not start or _instant(start) > _instant(events[0]["at"]):
            start = events[0]["at"]
        segments.append({"version": str(first), "start": start, "end": events[0]["at"], "via": "registry"})
    for i, ev in enumerate(events):
        end = events[i + 1]["at"] if i + 1 < len(events) else now
        segments.append({"version": str(ev["version_after"]), "start": ev["at"], "end": end, "via": ev["action"]})
    return segments


def _instant(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return t if t.tzinfo else t.replace(tzinfo=UTC)
