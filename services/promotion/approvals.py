"""Decisions: approve (promote), reject, roll back, request review — gated, guarded, audited.

Every entry point:

1. validates usage (user given, comment present where required and <= 5000 characters; HTML is
   kept as plain text, the UI renders it as text) -> :class:`BadInput` (exit 2, not audited);
2. checks role, four-eyes, gate and the registry state the caller was shown -> :class:`Refused`
   (exit 3, audited, registry untouched);
3. claims the model's transition row in the audit store (one conditional UPDATE in a write
   transaction: exactly one winner across processes/replicas), re-reads the registry under the
   claim (stale -> refused), snapshots what the plan touches, runs the plan step by step and,
   when a step fails, restores the snapshot (compensation) and records ``failed``;
4. releases the claim and appends the ``done`` record in the same audit transaction; the
   decision is mirrored as model-version tags by the plan itself, then (never blocking) sent to
   the webhook / Databricks.

``expected_champion``: the champion version the user saw (``""``/``None``: no champion). The
app passes what it rendered; the CLI passes nothing and the state read when the gate was
evaluated is used.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from services.errors import BadInput, DriftGateError, Refused, Unavailable
from services.promotion import audit, notify
from services.promotion.gate import GateResult, evaluate
from services.promotion.roles import can_approve, can_reject, can_request, can_rollback, clean_identity, distinct_users
from services.registry.lifecycle import Lifecycle, make_lifecycle, normalise_version, utc_now

COMMENT_MAX = audit.COMMENT_MAX
UNSET: Any = object()
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TransitionFailed(Unavailable):
    """A registry call failed midway; the transition was undone (or recovery is pending)."""


def clean_comment(comment: str | None, required: bool = False, what: str = "this decision") -> str | None:
    """Strip control characters; empty -> None. Over 5000 characters or missing when required
    -> BadInput. Comments are stored verbatim otherwise (HTML stays text; never rendered as HTML)."""
    text = _CTRL.sub("", str(comment)).strip() if comment is not None else ""
    if len(text) > COMMENT_MAX:
        raise BadInput(f"comment too long: {len(text)} characters (max {COMMENT_MAX})")
    if not text:
        if required:
            raise BadInput(f"a comment is required for {what}")
        return None
    return text


def _user(user: str | None) -> str:
    return clean_identity(user)


def authors(settings, lc: Lifecycle, view, remember: bool = True) -> list[str]:
    """Everyone four-eyes counts as an author of ``view``: what MLflow recorded and the tags say
    now (:attr:`VersionView.authors`) plus every author DriftGate recorded for it before, in its
    append-only store. ``remember``: record the ones seen now (decisions and review requests do)."""
    seen = list(view.authors) or ([view.created_by] if view.created_by else [])
    if remember:
        return audit.remember_authors(settings, lc.model, view.version, seen, utc_now())
    return distinct_users([*audit.recorded_authors(settings, lc.model, view.version), *seen])


def _lifecycle(settings, client, model: str, like: Lifecycle | None = None) -> Lifecycle:
    """A lifecycle for one operation: one registry snapshot, reused until a write (the cache),
    run look-ups only for the version decided on."""
    lc = make_lifecycle(settings, client, model)
    lc.cache, lc.read_authors = True, False
    if like is not None:
        lc._run_users = like._run_users  # the source run's author does not change
    return lc


def _client(settings, client):
    if client is not None:
        return client
    from services.registry.mlflow_client import make_client

    return make_client(settings)


def _record(
    action,
    outcome,
    model,
    user,
    version=None,
    before=None,
    after=None,
    reason=None,
    comment=None,
    evidence=None,
    txn=None,
):
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
        "evidence": evidence,
        "txn": txn,
    }


def _refuse(settings, rec: dict[str, Any]) -> None:
    """Audit a refused attempt, then raise Refused (the audit failing must not hide the refusal)."""
    try:
        audit.append(settings, rec)
    except DriftGateError:
        pass
    notify.send(settings, rec)
    raise Refused(rec["reason"])


def _same(a: str | None, b: str | None) -> bool:
    return (a or None) == (b or None)


# -- lease, heartbeat, fencing ---------------------------------------------------------------
#: Registry writes the fenced client checks the claim before (every write a plan or restore makes).
REGISTRY_WRITES = frozenset(
    {
        "set_registered_model_alias",
        "delete_registered_model_alias",
        "transition_model_version_stage",
        "set_model_version_tag",
        "delete_model_version_tag",
        "set_registered_model_tag",
        "delete_registered_model_tag",
    }
)


def lease_seconds(settings) -> float:
    """``[audit] lease_seconds`` (validated: >= the schema's minimum)."""
    return float(settings.section("audit")["lease_seconds"])


class Fence:
    """Holds a transition claim: a heartbeat thread renews the lease every ``lease / 5`` s, and
    :meth:`check` (a renewal that must succeed) runs before every registry write, so a process
    whose claim was taken over stops before its next write."""

    def __init__(self, settings, model: str, txn: str):
        self.settings, self.model, self.txn = settings, model, txn
        self.interval = max(0.5, lease_seconds(settings) / 5)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"driftgate-lease-{txn[:8]}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not audit.renew(self.settings, self.model, self.txn):
                    self.lost = True
                    return
            except DriftGateError:
                pass  # the next check() says so before any write

    def check(self, what: str = "a registry write") -> None:
        if self.lost or not audit.renew(self.settings, self.model, self.txn):
            self.lost = True
            raise audit.LostClaim(f"the transition claim on {self.model} was lost before {what}; nothing more written")

    def __enter__(self) -> Fence:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        audit.forget(self.txn)


class FencedClient:
    """An MLflow client whose registry writes first check the transition claim (:meth:`Fence.check`)."""

    def __init__(self, client, fence: Fence):
        self._client, self._fence = client, fence

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in REGISTRY_WRITES:
            return attr

        def write(*args, **kwargs):
            self._fence.check(name)
            return attr(*args, **kwargs)

        return write


# -- crash recovery -------------------------------------------------------------------------
def _owner_dead(owner: str | None, txn: str | None = None) -> bool:
    """Provably gone: a dead pid on this host, or this very process without a live hold on ``txn``."""
    if not owner or ":" not in owner:
        return False
    host, pid = owner.rsplit(":", 1)
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return txn is not None and not audit.holds(txn)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def claim_is_stale(settings, row: dict[str, Any], now: float | None = None) -> bool:
    """May a recoverer take this claim over? Only when its owner is provably gone or its lease
    (renewed every lease/5 s while the owner works) went unrenewed for a whole lease."""
    if _owner_dead(row.get("owner"), row.get("txn")):
        return True
    beat = row.get("started_epoch")
    return beat is not None and (time.time() if now is None else now) - float(beat) > lease_seconds(settings)


def recover(settings, client=None, model: str | None = None, force: bool = False) -> list[dict[str, Any]]:
    """Undo transitions a crashed process left in progress; returns the audit records written.

    A claim is taken over only when :func:`claim_is_stale` (or ``force``); the take-over is a
    conditional UPDATE on the claim and the lease seen, so a heartbeat in between wins. The
    registry is restored from the snapshot under the recoverer's own fenced claim, re-read and
    retried until it matches (first-try recovery from any crash point).
    """
    out = []
    for row in audit.in_progress(settings):
        if model and row["model"] != model:
            continue
        if not (force or claim_is_stale(settings, row)):
            continue
        txn = uuid.uuid4().hex
        if not audit.take_over(settings, row["model"], row["txn"], txn, row.get("started_epoch")):
            continue
        with Fence(settings, row["model"], txn) as fence:
            snap = row.get("snapshot")
            base = _client(settings, client)
            lc = _lifecycle(settings, FencedClient(base, fence), row["model"])
            problem = None
            for attempt in range(3):
                try:
                    if snap:
                        lc.restore(snap)
                        if not lc.matches(snap):
                            raise RuntimeError("registry does not match the snapshot after restore")
                    problem = None
                    break
                except audit.LostClaim:
                    problem = "lost"
                    break
                except Exception as exc:
                    problem = type(exc).__name__
                    time.sleep(0.2 * (attempt + 1))
            if problem == "lost":
                continue
            if problem:
                audit.append(
                    settings,
                    _record(
                        row.get("action") or "approve",
                        "failed",
                        row["model"],
                        "driftgate",
                        reason=f"recovery of an interrupted transition failed ({problem}); will retry",
                    ),
                )
                continue  # the claim stays in progress; this process no longer holds it -> stale
            champion = lc.state().champion
            rec = _record(
                row.get("action") or "approve",
                "failed",
                row["model"],
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
                audit.release(settings, row["model"], txn, champion or "", rec)
            except audit.LostClaim:
                continue
            out.append(rec)
    return out


def interrupted_notice(settings, model: str) -> dict[str, Any] | None:
    """For the Overview / Promotions pages: when the newest transition of ``model`` was an
    interrupted one that recovery rolled back, ``{"at", "started_at", "action", "text"}``; else
    ``None``. A transition still in progress whose owner is gone is reported too (``pending``).
    Best effort: ``None`` when the audit store cannot be read (the page says that elsewhere)."""
    try:
        return _interrupted_notice(settings, model)
    except DriftGateError:
        return None


def _interrupted_notice(settings, model: str) -> dict[str, Any] | None:
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


# -- the guarded transition -------------------------------------------------------------------
def _transition(
    settings,
    lc: Lifecycle,
    *,
    action: str,
    user: str,
    version: str | None,
    expected_champion: str | None,
    precheck: Callable[[Lifecycle], str | None],
    plan: Callable[[Lifecycle, str], list],
    involved: list[str | None],
    expect_after: Callable[[Lifecycle], bool],
    comment: str | None,
    evidence: dict[str, Any] | None,
) -> dict[str, Any]:
    model = lc.model
    recover(settings, lc.client, model)
    txn = uuid.uuid4().hex
    at = utc_now()
    other = audit.claim(settings, model, txn, action, at, time.time())
    if other is not None:
        _refuse(
            settings,
            _record(
                action,
                "refused",
                model,
                user,
                version,
                expected_champion,
                expected_champion,
                f"another transition of {model} is in progress (started {other.get('started_at')}): stale state — reload",
                comment,
                evidence,
            ),
        )
    with Fence(settings, model, txn) as fence:
        return _run_claimed(
            settings,
            _lifecycle(settings, FencedClient(lc.client, fence), model, like=lc),
            fence,
            txn,
            at,
            action=action,
            user=user,
            version=version,
            expected_champion=expected_champion,
            precheck=precheck,
            plan=plan,
            involved=involved,
            expect_after=expect_after,
            comment=comment,
            evidence=evidence,
        )


def _run_claimed(
    settings,
    lc: Lifecycle,
    fence: Fence,
    txn: str,
    at: str,
    *,
    action,
    user,
    version,
    expected_champion,
    precheck,
    plan,
    involved,
    expect_after,
    comment,
    evidence,
) -> dict[str, Any]:
    model = lc.model
    snap = None
    step_no, step_name = 0, ""
    try:
        state = lc.state()
        problem = None
        if not _same(state.champion, expected_champion):
            problem = (
                f"stale state — reload: the champion is now version {state.champion or 'none'}, "
                f"not {expected_champion or 'none'} as shown"
            )
        else:
            problem = precheck(lc)
        if problem:
            rec = _record(
                action, "refused", model, user, version, state.champion, state.champion, problem, comment, evidence, txn
            )
            audit.release(settings, model, txn, state.champion or "", rec)
            notify.send(settings, rec)
            raise Refused(problem)
        snap = lc.snapshot([v for v in involved if v])
        audit.save_snapshot(settings, model, txn, snap)
        steps = plan(lc, at)
        for step_no, step in enumerate(steps, start=1):
            step_name = step.name
            try:
                step.run()
            finally:
                lc.invalidate()  # the snapshot no longer holds after a write (or a failed one)
        if not expect_after(lc) or lc.champion_count() != 1:
            step_no, step_name = len(steps) + 1, "verify"
            raise RuntimeError("registry is not in the expected state after the transition")
    except Refused:
        raise
    except audit.LostClaim as exc:
        # Another process took the claim over and restores the registry: write nothing more.
        reason = f"{action} stopped at step {step_no} ({step_name or 'start'}): {exc}"
        rec = _record(action, "failed", model, user, version, expected_champion, None, reason, comment, evidence, txn)
        try:
            audit.append(settings, rec)
        except DriftGateError:
            pass
        raise TransitionFailed(reason) from None
    except Exception as exc:
        kind = type(exc).__name__
        restored = False
        if snap is not None:
            for _ in range(3):
                try:
                    lc.restore(snap)
                    restored = lc.matches(snap)
                except audit.LostClaim:
                    restored = False
                    break
                except Exception:
                    restored = False
                if restored:
                    break
                time.sleep(0.2)
        else:
            restored = True  # nothing was written
        try:
            after = lc.state().champion
        except Exception:
            after = None
        if restored:
            reason = f"{action} failed at step {step_no} ({step_name}: {kind}); registry restored, champion still version {after or 'none'}"
            rec = _record(
                action, "failed", model, user, version, expected_champion, after, reason, comment, evidence, txn
            )
            try:
                audit.release(settings, model, txn, after or "", rec)
            except audit.LostClaim:
                pass
        else:
            reason = f"{action} failed at step {step_no} ({step_name}: {kind}); undo incomplete, recovery pending"
            rec = _record(
                action, "failed", model, user, version, expected_champion, after, reason, comment, evidence, txn
            )
            try:
                audit.append(settings, rec)
            except DriftGateError:
                pass
        notify.send(settings, rec)
        raise TransitionFailed(reason) from None
    after = lc.state().champion
    rec = _record(action, "done", model, user, version, expected_champion, after, None, comment, evidence, txn)
    rec["reason"] = {
        "approve": f"version {version} promoted to champion (was {expected_champion or 'none'})",
        "rollback": f"rolled back to version {after} (was {expected_champion})",
        "reject": f"version {version} rejected",
    }.get(action)
    try:
        audit.release(settings, model, txn, after or "", rec)
    except audit.LostClaim as exc:
        raise TransitionFailed(f"{action}: {exc}") from None
    notify.send(settings, rec)
    notify.mirror_databricks(settings, rec, client=getattr(lc.client, "_client", lc.client))  # not the fenced wrapper
    return {k: v for k, v in rec.items() if k != "txn"}


# -- public entry points ------------------------------------------------------------------
@audit.with_identity
def approve(
    settings,
    model: str,
    version: object,
    user: str | None,
    comment: str | None = None,
    expected_champion: Any = UNSET,
    client=None,
    gate: GateResult | None = None,
) -> dict[str, Any]:
    """Promote ``version`` to champion (see module doc). Returns the audit record."""
    user = _user(user)
    comment = clean_comment(comment)
    v = normalise_version(version)
    lc = _lifecycle(settings, _client(settings, client), model)
    view = lc.get_version(v)
    if recover(settings, lc.client, lc.model):
        lc.invalidate()  # the snapshot read before predates the restore
    state = lc.state()
    shown = state.champion if expected_champion is UNSET else (expected_champion or None)
    base = dict(
        action="approve",
        model=lc.model,
        user=user,
        version=v,
        before=state.champion,
        after=state.champion,
        comment=comment,
    )
    if not _same(state.champion, shown):
        _refuse(
            settings,
            _record(
                **base,
                outcome="refused",
                reason=f"stale state — reload: the champion is now version {state.champion or 'none'}, not {shown or 'none'} as shown",
            ),
        )
    perm = can_approve(settings, user, authors(settings, lc, view))
    if not perm:
        _refuse(settings, _record(**base, outcome="refused", reason=perm.reason))
    result = gate if gate is not None and gate.version == v and _same(gate.champion, state.champion) else None
    result = result or evaluate(settings, lc.client, lc.model, v, lc)
    if not _same(result.champion, state.champion):
        # The champion changed between reading the state and evaluating the gate (another
        # approval won the race): the user decided on a page that no longer holds.
        _refuse(
            settings,
            _record(
                **base,
                outcome="refused",
                reason=f"stale state — reload: the champion is now version {result.champion or 'none'}, "
                f"not {state.champion or 'none'} as shown",
            ),
        )
    evidence = result.to_json()
    base["evidence"] = evidence
    if not result.passed:
        names = ", ".join(f"{c.name} ({c.detail})" for c in result.blocking)
        _refuse(settings, _record(**base, outcome="refused", reason=f"gate failed: {names}"))
    cfg = result.config
    needed = int(cfg.get("approvals_required", 1))
    if needed > 1:
        voters = distinct_users(audit.add_vote(settings, lc.model, v, user, state.champion or "", utc_now()))
        if len(voters) < needed:
            rec = _record(
                **base,
                outcome="done",
                reason=f"approval {len(voters)} of {needed} recorded ({', '.join(voters)}); version not promoted yet",
            )
            audit.append(settings, rec)
            notify.send(settings, rec)
            return {k: x for k, x in rec.items() if k != "txn"}
        evidence["approvers"] = voters
    extra_tags = {}
    approval_tag = cfg.get("approval_tag") or settings.section("approvals").get("approval_tag")
    if approval_tag:
        extra_tags[str(approval_tag)] = "Approved"

    def precheck(lc2: Lifecycle) -> str | None:
        now = lc2.get_version(v)
        if now.state in ("champion", "rejected"):
            return f"stale state — reload: version {v} is now {now.state}"
        return None

    return _transition(
        settings,
        lc,
        action="approve",
        user=user,
        version=v,
        expected_champion=state.champion,
        precheck=precheck,
        plan=lambda lc2, at: lc2.promote_plan(v, user, at, comment, extra_tags),
        involved=[v, state.champion, state.previous],
        expect_after=lambda lc2: lc2.state().champion == v,
        comment=comment,
        evidence=evidence,
    )


@audit.with_identity
def reject(
    settings,
    model: str,
    version: object,
    user: str | None,
    comment: str | None,
    expected_champion: Any = UNSET,
    client=None,
) -> dict[str, Any]:
    """Tag ``version`` rejected (approver or its author; comment required)."""
    user = _user(user)
    comment = clean_comment(comment, required=True, what="a rejection")
    v = normalise_version(version)
    lc = _lifecycle(settings, _client(settings, client), model)
    view = lc.get_version(v)
    if recover(settings, lc.client, lc.model):
        lc.invalidate()  # the snapshot read before predates the restore
    view = lc.get_version(v)
    state = lc.state()
    shown = state.champion if expected_champion is UNSET else (expected_champion or None)
    base = dict(
        action="reject",
        model=lc.model,
        user=user,
        version=v,
        before=state.champion,
        after=state.champion,
        comment=comment,
    )
    if not _same(state.champion, shown):
        _refuse(
            settings,
            _record(
                **base,
                outcome="refused",
                reason=f"stale state — reload: the champion is now version {state.champion or 'none'}",
            ),
        )
    perm = can_reject(settings, user, authors(settings, lc, view))
    if not perm:
        _refuse(settings, _record(**base, outcome="refused", reason=perm.reason))
    if view.state in ("champion", "rejected"):
        why = "is the champion: roll back instead" if view.state == "champion" else "is already rejected"
        _refuse(settings, _record(**base, outcome="refused", reason=f"version {v} {why}"))

    def precheck(lc2: Lifecycle) -> str | None:
        now = lc2.get_version(v)
        return (
            f"stale state — reload: version {v} is now {now.state}" if now.state in ("champion", "rejected") else None
        )

    return _transition(
        settings,
        lc,
        action="reject",
        user=user,
        version=v,
        expected_champion=state.champion,
        precheck=precheck,
        plan=lambda lc2, at: lc2.reject_plan(v, user, at, comment),
        involved=[v],
        expect_after=lambda lc2: lc2.get_version(v).state == "rejected",
        comment=comment,
        evidence=None,
    )


@audit.with_identity
def rollback(
    settings, model: str, user: str | None, comment: str | None, expected_champion: Any = UNSET, client=None
) -> dict[str, Any]:
    """Restore the previous champion (approver; comment required)."""
    user = _user(user)
    comment = clean_comment(comment, required=True, what="a rollback")
    lc = _lifecycle(settings, _client(settings, client), model)
    lc.versions()  # unknown model -> NotFound
    if recover(settings, lc.client, lc.model):
        lc.invalidate()  # the snapshot read before predates the restore
    state = lc.state()
    shown = state.champion if expected_champion is UNSET else (expected_champion or None)
    base = dict(
        action="rollback",
        model=lc.model,
        user=user,
        version=state.previous,
        before=state.champion,
        after=state.champion,
        comment=comment,
    )
    if not _same(state.champion, shown):
        _refuse(
            settings,
            _record(
                **base,
                outcome="refused",
                reason=f"stale state — reload: the champion is now version {state.champion or 'none'}",
            ),
        )
    perm = can_rollback(settings, user)
    if not perm:
        _refuse(settings, _record(**base, outcome="refused", reason=perm.reason))
    if not state.previous:
        _refuse(settings, _record(**base, outcome="refused", reason="no previous champion to roll back to"))
    target = state.previous

    def precheck(lc2: Lifecycle) -> str | None:
        return None if lc2.state().previous == target else "stale state — reload: the rollback target changed"

    return _transition(
        settings,
        lc,
        action="rollback",
        user=user,
        version=target,
        expected_champion=state.champion,
        precheck=precheck,
        plan=lambda lc2, at: lc2.rollback_plan(user, at, comment),
        involved=[target, state.champion],
        expect_after=lambda lc2: lc2.state().champion == target,
        comment=comment,
        evidence={"rollback_from": state.champion, "rollback_to": target},
    )


@audit.with_identity
def request_review(
    settings, model: str, version: object, user: str | None, comment: str | None = None, client=None
) -> dict[str, Any]:
    """The author (or an approver) asks for a decision: audited + notified; registry untouched."""
    user = _user(user)
    comment = clean_comment(comment)
    v = normalise_version(version)
    lc = _lifecycle(settings, _client(settings, client), model)
    view = lc.get_version(v)
    state = lc.state()
    base = dict(
        action="request",
        model=lc.model,
        user=user,
        version=v,
        before=state.champion,
        after=state.champion,
        comment=comment,
    )
    perm = can_request(settings, user, authors(settings, lc, view))
    if not perm:
        _refuse(settings, _record(**base, outcome="refused", reason=perm.reason))
    if view.state != "candidate":
        _refuse(settings, _record(**base, outcome="refused", reason=f"version {v} is {view.state}, not a candidate"))
    rec = _record(**base, outcome="done", reason=f"review of version {v} requested")
    audit.append(settings, rec)
    notify.send(settings, rec)
    notify.mirror_databricks(settings, rec, client=lc.client)
    return {k: x for k, x in rec.items() if k != "txn"}


def preview(settings, client, model: str, action: str, version: object | None = None, user: str = "you") -> list[str]:
    """Exactly which registry writes ``action`` would make now, in words (for confirm dialogs).

    Built from the same plan the transition runs; decision tags are summarised in one line."""
    lc = _lifecycle(settings, _client(settings, client), model)
    state = lc.state()
    at = utc_now()
    if action == "approve":
        v = normalise_version(version)
        steps = lc.promote_plan(v, user, at, None)
        head = f"champion: v{state.champion or '-'} → v{v}"
    elif action == "rollback":
        steps = lc.rollback_plan(user, at, None)
        head = f"champion: v{state.champion or '-'} → v{state.previous}"
    else:
        raise BadInput(f"no preview for {action!r}")
    writes = [s.name for s in steps if not s.name.startswith(("tag ", "untag "))]
    tagged = sorted({s.name.split()[1] for s in steps if s.name.startswith(("tag ", "untag "))})
    lines = [head] + writes
    if tagged:
        lines.append(f"decision tags written on {', '.join(tagged)} (driftgate.decision, …)")
    return lines


def decision_options(settings, client, model: str, version: object | None, user: str | None) -> dict[str, Any]:
    """What ``user`` may do on the page: {"approve": Permission-like dict, "reject": ..., "rollback": ...}.

    Approve additionally needs a passing gate (the page passes the GateResult it shows).
    """
    lc = make_lifecycle(settings, client, model)
    out: dict[str, Any] = {}
    state = lc.state()
    if version is not None:
        view = lc.get_version(version)
        who = authors(settings, lc, view, remember=False)
        p = can_approve(settings, user, who)
        out["approve"] = {"allowed": p.allowed, "reason": p.reason}
        r = can_reject(settings, user, who)
        if r.allowed and view.state in ("champion", "rejected"):
            r = type(r)(False, f"version {view.version} is {view.state}")
        out["reject"] = {"allowed": r.allowed, "reason": r.reason}
    rb = can_rollback(settings, user)
    if rb.allowed and not state.previous:
        rb = type(rb)(False, "no previous champion to roll back to")
    out["rollback"] = {"allowed": rb.allowed, "reason": rb.reason, "target": state.previous, "champion": state.champion}
    return out
