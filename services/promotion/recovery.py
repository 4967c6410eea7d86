"""Crash recovery: transitions a dead (or lease-expired) process left in progress are undone.

:func:`recover` runs once at the start of every decision (and from the CLI); the pages show
:func:`interrupted_notice`.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.config import Settings
from services.errors import DriftGateError
from services.promotion import audit
from services.promotion.audit import AuditStore
from services.promotion.lease import Fence, FencedClient, claim_is_stale
from services.promotion.transition import AuditRecord, operation_lifecycle, record, restore_snapshot
from services.registry.mlflow_client import make_client


def recover(
    settings: Settings,
    client: Any = None,
    model: str | None = None,
    force: bool = False,
    store: AuditStore | None = None,
) -> list[AuditRecord]:
    """Undo transitions a crashed process left in progress; returns the audit records written.

    A claim is taken over only when :func:`claim_is_stale` (or ``force``); the take-over is a
    conditional UPDATE on the claim and the lease seen, so a heartbeat in between wins. The
    registry is restored from the snapshot under the recoverer's own fenced claim, re-read and
    retried until it matches (first-try recovery from any crash point).
    """
    store = store or audit.store_for(settings)
    out = []
    for row in store.in_progress():
        client = client if client is not None else make_client(settings)
        if model and row["model"] != model:
            continue
        if not (force or claim_is_stale(settings, row)):
            continue
        txn = uuid.uuid4().hex
        if not store.take_over(row["model"], row["txn"], txn, row.get("started_epoch")):
            continue
        rec = _recover_one(settings, store, client, row, txn)
        if rec is not None:
            out.append(rec)
    return out


def _recover_one(
    settings: Settings, store: AuditStore, client: Any, row: dict[str, Any], txn: str
) -> AuditRecord | None:
    """Restore one interrupted transition under the claim ``txn`` just taken over."""
    model, action = row["model"], row.get("action") or "approve"
    with Fence(settings, store, model, txn) as fence:
        snap = row.get("snapshot")
        lc = operation_lifecycle(settings, FencedClient(client, fence), model)
        try:
            problem = restore_snapshot(lc, snap) if snap else None
        except audit.LostClaim:
            return None
        if problem:
            reason = f"recovery of an interrupted transition failed ({problem}); will retry"
            store.append(record(action, "failed", model, "driftgate", reason=reason))
            return None  # the claim stays in progress; this process no longer holds it -> stale
        champion = lc.state().champion
        rec = record(
            action,
            "failed",
            model,
            "driftgate",
            before=champion,
            after=champion,
            reason=f"transition started {row.get('started_at')} by {row.get('owner')} was interrupted; "
            f"registry restored (recovered)",
            evidence={
                "recovered": True,
                "interrupted_started_at": row.get("started_at"),
                "interrupted_action": row.get("action"),
                "owner": row.get("owner"),
            },
        )
        try:
            store.release(model, txn, txn, rec)
        except audit.LostClaim:
            return None
        return rec


def interrupted_notice(settings: Settings, model: str) -> dict[str, Any] | None:
    """For the Overview / Promotions pages: when the newest transition of ``model`` was an
    interrupted one that recovery rolled back, ``{"at", "started_at", "action", "text"}``; else
    ``None``. A transition still in progress whose owner is gone is reported too (``pending``).
    Best effort: ``None`` when the audit store cannot be read (the page says that elsewhere)."""
    try:
        return _interrupted_notice(settings, model)
    except DriftGateError:
        return None


def _interrupted_notice(settings: Settings, model: str) -> dict[str, Any] | None:
    for row in audit.in_progress(settings):
        if row["model"] == model and claim_is_stale(settings, row):
            return {
                "at": None,
                "started_at": row.get("started_at"),
                "action": row.get("action"),
                "pending": True,
                "text": f"a {row.get('action') or 'transition'} started {row.get('started_at')} was interrupted; "
                f"it will be rolled back by the next decision",
            }
    recs = [
        r
        for r in audit.query(settings, model=model, limit=50)
        if r.get("action") in ("approve", "reject", "rollback") and r.get("outcome") in ("done", "failed")
    ]
    if not recs:
        return None
    last = recs[-1]
    ev = last.get("evidence") or {}
    if not (isinstance(ev, dict) and ev.get("recovered")):
        return None
    return {
        "at": last["at"],
        "started_at": ev.get("interrupted_started_at"),
        "action": ev.get("interrupted_action"),
        "pending": False,
        "text": f"a transition was interrupted and rolled back at {last['at']}",
    }
