"""The guarded registry transition shared by approve, reject and roll back.

One operation reads the registry once (:func:`operation_lifecycle`: a cached snapshot), checks
what the user was shown against it, then :func:`run_transition`:

1. claims the model's transition row in the audit store (one conditional UPDATE: exactly one
   winner across processes and replicas) and checks the audit generation read before the
   registry snapshot is still current: any DriftGate transition that ended in between makes the
   snapshot stale (refused, "stale state — reload"), so no registry re-read is needed under the
   claim;
2. records the snapshot of everything the plan touches, runs the plan (one registry write per
   step, each fenced by the lease) and, when a step fails, restores the snapshot (compensation)
   and records ``failed``;
3. releases the claim with a new generation and appends the ``done`` record in the same audit
   transaction; then (never blocking) notifies.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.config import Settings
from services.errors import DriftGateError, Refused, Unavailable
from services.promotion import audit, notify
from services.promotion.audit import AuditStore
from services.promotion.lease import Fence, FencedClient
from services.registry.lifecycle import Lifecycle, Step, make_lifecycle, utc_now

AuditRecord = dict[str, Any]


class TransitionFailed(Unavailable):
    """A registry call failed midway; the transition was undone (or recovery is pending)."""


def operation_lifecycle(settings: Settings, client: Any, model: str) -> Lifecycle:
    """A lifecycle for one operation: one registry snapshot, reused until a write (the cache),
    run look-ups only for the version decided on."""
    lc = make_lifecycle(settings, client, model)
    lc.cache, lc.read_authors = True, False
    return lc


def record(
    action: str,
    outcome: str,
    model: str,
    user: str,
    version: str | None = None,
    before: str | None = None,
    after: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
    evidence: Mapping[str, Any] | None = None,
    txn: str | None = None,
) -> AuditRecord:
    """An audit record (the shape :mod:`services.promotion.audit` stores)."""
    return {
        "at": utc_now(),
        "user": user,
        "action": action,
        "outcome": outcome,
        "model": model,
        "version": version,
        "version_before": before,
        "version_after": after,
        "reason": reason,
        "comment": comment,
        "evidence": dict(evidence) if evidence is not None else None,
        "txn": txn,
    }


def public(rec: AuditRecord) -> AuditRecord:
    """The record as callers get it (no transaction id)."""
    return {k: v for k, v in rec.items() if k != "txn"}


def append_quietly(store: AuditStore, rec: AuditRecord) -> None:
    """Append ``rec``; an audit store failure must not hide the outcome being reported."""
    with contextlib.suppress(DriftGateError):
        store.append(rec)


def refuse(settings: Settings, store: AuditStore, rec: AuditRecord) -> None:
    """Audit a refused attempt, then raise Refused (the audit failing must not hide the refusal)."""
    append_quietly(store, rec)
    notify.send(settings, rec)
    raise Refused(rec["reason"])


def restore_snapshot(lc: Lifecycle, snap: Mapping[str, Any]) -> str | None:
    """Restore ``snap`` until the registry matches it (3 tries): ``None`` when it does, else why
    not (the last error's kind). :class:`audit.LostClaim` propagates: stop writing at once."""
    problem = "RuntimeError"
    for attempt in range(3):
        try:
            lc.restore(snap)
            if lc.matches(snap):
                return None
            problem = "RuntimeError"  # the registry does not match the snapshot after restore
        except audit.LostClaim:
            raise
        except Exception as exc:  # a registry call failed: re-read and retry
            problem = type(exc).__name__
        time.sleep(0.2 * (attempt + 1))
    return problem


@dataclass(frozen=True)
class Transition:
    """What one decision wants done, checked against the operation's registry snapshot."""

    action: str
    user: str
    version: str | None
    #: The champion the snapshot holds (the user was shown it: checked before).
    champion: str | None
    #: The champion once the plan has run.
    after: str | None
    #: A reason to refuse, judged on the snapshot (``None``: go ahead).
    precheck: Callable[[Lifecycle], str | None]
    plan: Callable[[Lifecycle, str], list[Step]]
    involved: Sequence[str | None]
    comment: str | None
    evidence: Mapping[str, Any] | None
    #: The audit generation read before the snapshot (:meth:`AuditStore.generation`).
    generation: str | None

    def rec(self, model: str, outcome: str, reason: str | None, after: str | None, txn: str | None) -> AuditRecord:
        return record(
            self.action,
            outcome,
            model,
            self.user,
            self.version,
            self.champion,
            after,
            reason,
            self.comment,
            self.evidence,
            txn,
        )

    def done_reason(self) -> str | None:
        return {
            "approve": f"version {self.version} promoted to champion (was {self.champion or 'none'})",
            "rollback": f"rolled back to version {self.after} (was {self.champion})",
            "reject": f"version {self.version} rejected",
        }.get(self.action)


def run_transition(settings: Settings, store: AuditStore, lc: Lifecycle, t: Transition) -> AuditRecord:
    """Claim, check, snapshot, run the plan, release (see module doc). ``lc`` holds the
    operation's registry snapshot; it is not read again before the writes."""
    model = lc.model
    txn = uuid.uuid4().hex
    at = utc_now()
    other = store.claim(model, txn, t.action, at, time.time())
    if other is not None:
        refuse(
            settings,
            store,
            t.rec(
                model,
                "refused",
                f"another transition of {model} is in progress (started {other.get('started_at')}): stale state — reload",
                t.champion,
                None,
            ),
        )
    with Fence(settings, store, model, txn) as fence:
        fenced = make_lifecycle(settings, FencedClient(lc.client, fence), model)
        fenced.cache, fenced.read_authors = True, False
        fenced.share_snapshot(lc)
        return _run_claimed(settings, store, fenced, txn, at, t)


def _stale_problem(lc: Lifecycle, t: Transition, generation: str | None) -> str | None:
    """Why the snapshot no longer holds under the claim (``generation``: the model's audit
    generation now), or ``None``."""
    if generation != t.generation:
        # Another transition ended since the snapshot: read what it left (a refusal only).
        lc.invalidate()
        now = lc.state().champion
        return f"stale state — reload: the champion is now version {now or 'none'}, not {t.champion or 'none'} as shown"
    return t.precheck(lc)


def _run_claimed(settings: Settings, store: AuditStore, lc: Lifecycle, txn: str, at: str, t: Transition) -> AuditRecord:
    model = lc.model
    snap = None
    step_no, step_name = 0, ""
    try:
        generation = store.generation(model)  # cannot change while the claim is held
        problem = _stale_problem(lc, t, generation)
        if problem:
            rec = t.rec(model, "refused", problem, t.champion, txn)
            rec["version_after"] = rec["version_before"] = lc.state().champion
            store.release(model, txn, generation, rec)  # nothing written: the generation stays
            notify.send(settings, rec)
            raise Refused(problem)
        snap = lc.snapshot([v for v in t.involved if v])
        store.save_snapshot(model, txn, snap)
        steps = t.plan(lc, at)
        for step_no, step in enumerate(steps, start=1):  # noqa: B007 - step_no names the failed step below
            step_name = step.name
            try:
                step.run()
            finally:
                lc.invalidate()  # the snapshot no longer holds after a write (or a failed one)
    except Refused:
        raise
    except audit.LostClaim as exc:
        # Another process took the claim over and restores the registry: write nothing more.
        reason = f"{t.action} stopped at step {step_no} ({step_name or 'start'}): {exc}"
        append_quietly(store, t.rec(model, "failed", reason, None, txn))
        raise TransitionFailed(reason) from None
    except Exception as exc:
        _compensate(
            settings,
            store,
            lc,
            txn,
            t,
            snap,
            f"{t.action} failed at step {step_no} ({step_name}: {type(exc).__name__})",
        )
    rec = t.rec(model, "done", t.done_reason(), t.after, txn)
    try:
        store.release(model, txn, txn, rec)
    except audit.LostClaim as exc:
        raise TransitionFailed(f"{t.action}: {exc}") from None
    notify.send(settings, rec)
    notify.mirror_databricks(settings, rec, client=lc.client.unfenced)
    return public(rec)


def _compensate(
    settings: Settings,
    store: AuditStore,
    lc: Lifecycle,
    txn: str,
    t: Transition,
    snap: Mapping[str, Any] | None,
    what: str,
) -> None:
    """Undo a failed plan from ``snap``, record ``failed`` and raise :class:`TransitionFailed`."""
    restored = snap is None  # nothing was written before the snapshot was recorded
    if snap is not None:
        try:
            restored = restore_snapshot(lc, snap) is None
        except audit.LostClaim:
            restored = False
    try:
        after = lc.state().champion
    except Exception:  # the registry is unreachable: the record says "none" known
        after = None
    if restored:
        reason = f"{what}; registry restored, champion still version {after or 'none'}"
        rec = t.rec(lc.model, "failed", reason, after, txn)
        with contextlib.suppress(audit.LostClaim):
            store.release(lc.model, txn, txn, rec)
    else:
        reason = f"{what}; undo incomplete, recovery pending"
        rec = t.rec(lc.model, "failed", reason, after, txn)
        append_quietly(store, rec)
    notify.send(settings, rec)
    raise TransitionFailed(reason) from None
