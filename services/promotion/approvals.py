"""Decisions: approve (promote), reject, roll back, request review — gated, guarded, audited.

Every entry point:

1. validates usage (user given, comment present where required and <= 5000 characters; HTML is
   kept as plain text, the UI renders it as text) -> :class:`BadInput` (exit 2, not audited);
2. recovers an interrupted transition of the model (once), then reads the registry once (one
   snapshot, :func:`services.promotion.transition.operation_lifecycle`) and checks role,
   four-eyes, gate and the state the caller was shown against it -> :class:`Refused` (exit 3,
   audited, registry untouched);
3. runs the transition (:func:`services.promotion.transition.run_transition`): claim, stale
   check by audit generation, snapshot, plan, compensation on failure, ``done`` record.

``expected_champion``: the champion version the user saw (``""``/``None``: no champion). The
app passes what it rendered; the CLI passes nothing and the state of the snapshot is used.

An approval of a candidate with a gate the page already evaluated (``gate=``) makes 10 MLflow
calls on a demo-like registry: 2 reads (registered model, versions) and 8 writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from services.config import Settings
from services.errors import BadInput
from services.promotion import audit, notify
from services.promotion.gate import GateResult, evaluate
from services.promotion.lease import REGISTRY_WRITES, Fence, claim_is_stale
from services.promotion.recovery import interrupted_notice, recover
from services.promotion.roles import (
    Permission,
    can_approve,
    can_reject,
    can_request,
    can_rollback,
    clean_identity,
    distinct_users,
)
from services.promotion.transition import (
    AuditRecord,
    Transition,
    TransitionFailed,
    operation_lifecycle,
    public,
    record,
    refuse,
    run_transition,
)
from services.registry.lifecycle import Lifecycle, RegistryState, VersionView, normalise_version, utc_now
from services.registry.mlflow_client import make_client

__all__ = [
    "COMMENT_MAX",
    "REGISTRY_WRITES",
    "Fence",
    "TransitionFailed",
    "approve",
    "authors",
    "claim_is_stale",
    "clean_comment",
    "interrupted_notice",
    "preview",
    "recover",
    "reject",
    "request_review",
    "rollback",
]

COMMENT_MAX = audit.COMMENT_MAX
UNSET: Any = object()
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


def authors(settings: Settings, lc: Lifecycle, view: VersionView, remember: bool = True) -> list[str]:
    """Everyone four-eyes counts as an author of ``view``: what MLflow recorded and the tags say
    now (:attr:`VersionView.authors`) plus every author DriftGate recorded for it before, in its
    append-only store. ``remember``: record the ones seen now (decisions and review requests do)."""
    seen = list(view.authors) or ([view.created_by] if view.created_by else [])
    if remember:
        return audit.remember_authors(settings, lc.model, view.version, seen, utc_now())
    return distinct_users([*audit.recorded_authors(settings, lc.model, view.version), *seen])


def _same(a: str | None, b: str | None) -> bool:
    return (a or None) == (b or None)


class _Operation:
    """One decision's registry snapshot: recovery first, then the audit generation, then one read."""

    def __init__(
        self,
        settings: Settings,
        client: Any,
        model: str,
        action: str,
        user: str | None,
        comment: str | None,
        *,
        version: object = UNSET,
        comment_for: str | None = None,
    ) -> None:
        """Usage first (user, comment — required when ``comment_for`` names the decision —,
        version: :class:`BadInput`, nothing read yet), then the snapshot."""
        self.settings, self.action, self.user = settings, action, clean_identity(user)
        self.comment = clean_comment(comment, required=comment_for is not None, what=comment_for or "this decision")
        self.version = "" if version is UNSET else normalise_version(version)
        client = client if client is not None else make_client(settings)
        self.lc = operation_lifecycle(settings, client, model)  # a blank model name -> BadInput
        self.store = audit.store_for(settings)
        recover(settings, client, self.lc.model, store=self.store)
        self.generation = self.store.generation(self.lc.model)  # before the registry read
        self.lc.versions()  # unknown model -> NotFound; the snapshot every check below reads
        self.state: RegistryState = self.lc.state()

    def base(self, version: str | None, comment: str | None, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        champion = self.state.champion
        return dict(
            action=self.action,
            model=self.lc.model,
            user=self.user,
            version=version,
            before=champion,
            after=champion,
            comment=comment,
            evidence=evidence,
        )

    def check_shown(self, expected_champion: Any, base: dict[str, Any], tail: bool = False) -> None:
        """Refuse when the champion the user was shown is not the snapshot's."""
        shown = self.state.champion if expected_champion is UNSET else (expected_champion or None)
        if not _same(self.state.champion, shown):
            reason = f"stale state — reload: the champion is now version {self.state.champion or 'none'}"
            if tail:
                reason += f", not {shown or 'none'} as shown"
            self.refuse(record(**base, outcome="refused", reason=reason))

    def admit(
        self, expected_champion: Any, version: str | None, permission: Callable[[], Permission], tail: bool = False
    ) -> dict[str, Any]:
        """The decision's record fields once the champion shown is the snapshot's and
        ``permission()`` (asked only then: it may record authors) allows it; else refused."""
        base = self.base(version, self.comment)
        self.check_shown(expected_champion, base, tail=tail)
        perm = permission()
        if not perm:
            self.refuse(record(**base, outcome="refused", reason=perm.reason))
        return base

    def refuse(self, rec: AuditRecord) -> None:
        refuse(self.settings, self.store, rec)

    def run(self, **kwargs: Any) -> AuditRecord:
        t = Transition(
            action=self.action, user=self.user, champion=self.state.champion, generation=self.generation, **kwargs
        )
        return run_transition(self.settings, self.store, self.lc, t)


def _decided(lc: Lifecycle, v: str) -> str | None:
    """The precheck of approve/reject: ``v`` must not be the champion or rejected already."""
    now = lc.find(v)
    return f"stale state — reload: version {v} is now {now.state}" if now.state in ("champion", "rejected") else None


def _usable_gate(op: _Operation, v: str, gate: GateResult | None) -> GateResult | None:
    """The page's gate result when it was evaluated for ``v`` on this snapshot's champion."""
    if gate is not None and gate.version == v and _same(gate.champion, op.state.champion):
        return gate
    return None


def _approval_authors(op: _Operation, v: str, gate: GateResult | None) -> list[str]:
    """Four-eyes authors: a gate result read the candidate's run authors already
    (``gate.authors``), else the version's run is read once; the snapshot adds what the version
    says now, the audit store what DriftGate saw before."""
    view = op.lc.find(v) if gate is not None and gate.authors else op.lc.get_version(v)
    seen = tuple(distinct_users([*(gate.authors if gate is not None else ()), *view.authors]))
    return authors(op.settings, op.lc, replace(view, authors=seen))


@audit.with_identity
def approve(
    settings: Settings,
    model: str,
    version: object,
    user: str | None,
    comment: str | None = None,
    expected_champion: Any = UNSET,
    client: Any = None,
    gate: GateResult | None = None,
) -> AuditRecord:
    """Promote ``version`` to champion (see module doc). Returns the audit record."""
    op = _Operation(settings, client, model, "approve", user, comment, version=version)
    v, comment = op.version, op.comment
    op.lc.find(v)  # unknown version -> NotFound
    usable = _usable_gate(op, v, gate)
    base = op.admit(
        expected_champion, v, lambda: can_approve(settings, op.user, _approval_authors(op, v, usable)), tail=True
    )
    result = usable or evaluate(settings, op.lc.client, op.lc.model, v, op.lc)  # on the snapshot
    evidence = result.to_json()
    base["evidence"] = evidence
    if not result.passed:
        names = ", ".join(f"{c.name} ({c.detail})" for c in result.blocking)
        op.refuse(record(**base, outcome="refused", reason=f"gate failed: {names}"))
    cfg = result.config
    needed = int(cfg.get("approvals_required", 1))
    if needed > 1:
        voters = distinct_users(op.store.add_vote(op.lc.model, v, op.user, op.state.champion or "", utc_now()))
        if len(voters) < needed:
            reason = f"approval {len(voters)} of {needed} recorded ({', '.join(voters)}); version not promoted yet"
            rec = record(**base, outcome="done", reason=reason)
            op.store.append(rec)
            notify.send(settings, rec)
            return public(rec)
        evidence["approvers"] = voters
    extra_tags = {}
    approval_tag = cfg.get("approval_tag") or settings.section("approvals").get("approval_tag")
    if approval_tag:
        extra_tags[str(approval_tag)] = "Approved"
    user_ = op.user
    return op.run(
        version=v,
        after=v,
        precheck=lambda lc: _decided(lc, v),
        plan=lambda lc, at: lc.promote_plan(v, user_, at, comment, extra_tags),
        involved=[v, op.state.champion, op.state.previous],
        comment=comment,
        evidence=evidence,
    )


@audit.with_identity
def reject(
    settings: Settings,
    model: str,
    version: object,
    user: str | None,
    comment: str | None,
    expected_champion: Any = UNSET,
    client: Any = None,
) -> AuditRecord:
    """Tag ``version`` rejected (approver or its author; comment required).

    The champion stays as it is; a rejected version can no longer be approved."""
    op = _Operation(settings, client, model, "reject", user, comment, version=version, comment_for="a rejection")
    v, comment = op.version, op.comment
    view = op.lc.get_version(v)
    base = op.admit(expected_champion, v, lambda: can_reject(settings, op.user, authors(settings, op.lc, view)))
    if view.state in ("champion", "rejected"):
        why = "is the champion: roll back instead" if view.state == "champion" else "is already rejected"
        op.refuse(record(**base, outcome="refused", reason=f"version {v} {why}"))
    user_ = op.user
    return op.run(
        version=v,
        after=op.state.champion,
        precheck=lambda lc: _decided(lc, v),
        plan=lambda lc, at: lc.reject_plan(v, user_, at, str(comment)),
        involved=[v],
        comment=comment,
        evidence=None,
    )


@audit.with_identity
def rollback(
    settings: Settings,
    model: str,
    user: str | None,
    comment: str | None,
    expected_champion: Any = UNSET,
    client: Any = None,
) -> AuditRecord:
    """Restore the previous champion (approver; comment required)."""
    op = _Operation(settings, client, model, "rollback", user, comment, comment_for="a rollback")
    comment = op.comment
    state = op.state
    base = op.admit(expected_champion, state.previous, lambda: can_rollback(settings, op.user))
    if not state.previous:
        op.refuse(record(**base, outcome="refused", reason="no previous champion to roll back to"))
    target = state.previous
    user_ = op.user

    def precheck(lc: Lifecycle) -> str | None:
        return None if lc.state().previous == target else "stale state — reload: the rollback target changed"

    return op.run(
        version=target,
        after=target,
        precheck=precheck,
        plan=lambda lc, at: lc.rollback_plan(user_, at, comment),
        involved=[target, state.champion],
        comment=comment,
        evidence={"rollback_from": state.champion, "rollback_to": target},
    )


@audit.with_identity
def request_review(
    settings: Settings, model: str, version: object, user: str | None, comment: str | None = None, client: Any = None
) -> AuditRecord:
    """The author (or an approver) asks for a decision: audited + notified; registry untouched."""
    user = clean_identity(user)
    comment = clean_comment(comment)
    v = normalise_version(version)
    lc = operation_lifecycle(settings, client if client is not None else make_client(settings), model)
    store = audit.store_for(settings)
    view = lc.get_version(v)
    champion = lc.state().champion
    base: dict[str, Any] = dict(
        action="request", model=lc.model, user=user, version=v, before=champion, after=champion, comment=comment
    )
    perm = can_request(settings, user, authors(settings, lc, view))
    if not perm:
        refuse(settings, store, record(**base, outcome="refused", reason=perm.reason))
    if view.state != "candidate":
        refuse(
            settings, store, record(**base, outcome="refused", reason=f"version {v} is {view.state}, not a candidate")
        )
    rec = record(**base, outcome="done", reason=f"review of version {v} requested")
    store.append(rec)
    notify.send(settings, rec)
    notify.mirror_databricks(settings, rec, client=lc.client)
    return public(rec)


def preview(
    settings: Settings, client: Any, model: str, action: str, version: object | None = None, user: str = "you"
) -> list[str]:
    """Exactly which registry writes ``action`` would make now, in words (for confirm dialogs).

    Built from the same plan the transition runs; decision tags are summarised in one line."""
    lc = operation_lifecycle(settings, client if client is not None else make_client(settings), model)
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
    lines = [head, *writes]
    if tagged:
        lines.append(f"decision tags written on {', '.join(tagged)} (driftgate.decision, …)")
    return lines
