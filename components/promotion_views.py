"""Promotions page widgets: version picker, gate checklist, decision buttons + dialogs, audit log.

User-supplied text (comments, reasons, user names) is only ever shown through ``st.text``,
``st.dataframe`` or escaped markdown: never as HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from components import promotion_data as data
from components.identity import with_persona
from components.tables import fitted, overflow, stage_text, utc_minute, utc_second
from components.text import md
from services.errors import BadInput, DriftGateError
from services.promotion import approvals, audit
from services.promotion.gate import GateResult
from services.promotion.roles import can_approve, can_reject, can_request, can_rollback
from services.registry.lifecycle import RegistryState, VersionView
from services.registry.views import registered_at

COMMENT_MAX = approvals.COMMENT_MAX
# pass / fail / warn differ in colour, icon and word (Streamlit badges), never by colour alone.
_BADGE = {
    "pass": ":green-badge[:material/check_circle: pass]",
    "fail": ":red-badge[:material/cancel: FAIL]",
    "warn": ":orange-badge[:material/warning: warn]",
}
# An advisory check that fails does not block: amber like a warning, still saying FAIL.
_ADVISORY_FAIL = ":orange-badge[:material/cancel: FAIL]"


def check_line(name: str, status: str, required: bool) -> str:
    """One checklist line: badge, name and whether it blocks the approval."""
    if required:
        return f"{_BADGE.get(status, md(status))} **{md(name)}** · required"
    badge = _ADVISORY_FAIL if status == "fail" else _BADGE.get(status, md(status))
    return f"{badge} **{md(name)}** · advisory" + (" — does not block the approval" if status == "fail" else "")


def flash() -> None:
    """The outcome of the last decision, shown once on the page after its rerun."""
    msg = st.session_state.pop("dg_promo_flash", None)
    if isinstance(msg, dict):
        (st.error if msg.get("kind") == "error" else st.success)(md(msg.get("text", ""), limit=None))
    elif msg:
        st.success(md(msg, limit=None))


DIALOG_KEY = "dg_promo_dialog"


def _close_dialog() -> None:
    st.session_state.pop(DIALOG_KEY, None)


def _open_dialog(kind: str, version: str | None, champion: str | None) -> None:
    # Kept in session state so the dialog survives full reruns; closing it (X / Esc) clears it.
    st.session_state[DIALOG_KEY] = {"kind": kind, "version": version, "champion": champion}


def _dialog_open(kind: str, version: str | None) -> dict | None:
    d = st.session_state.get(DIALOG_KEY)
    return d if d and d["kind"] == kind and d["version"] == version else None


def _done(message: str) -> None:
    _close_dialog()
    st.session_state["dg_promo_flash"] = message
    data.clear()
    st.rerun()


def _refused(exc: DriftGateError) -> None:
    """A refused decision (stale state, lost race, permission): close the dialog, reload the
    registry and show the refusal on the page, which now shows the registry as it is."""
    _close_dialog()
    st.session_state["dg_promo_flash"] = {"kind": "error", "text": str(exc)}
    data.clear()
    st.rerun()


# -- picker + registry ---------------------------------------------------------------------------
def pick_version(versions: list[VersionView]) -> VersionView:
    """Select a version (default: the first candidate awaiting a decision); synced with ?version=.
    ``versions`` is not empty (the page says so before)."""
    ids = [v.version for v in versions]
    wanted = st.query_params.get("version")
    if wanted and wanted not in ids:
        st.warning(f"version {md(wanted)} not found; showing another one")
    pending = [v.version for v in versions if v.state == "candidate"]
    default = wanted if wanted in ids else (pending[0] if pending else ids[-1])
    by_id = {v.version: v for v in versions}
    choice = st.selectbox(
        "Version",
        ids,
        index=ids.index(default),
        key="dg_promo_version",
        format_func=lambda i: (
            f"v{i} · by {by_id[i].created_by or 'unknown'} · registered {(registered_at(by_id[i]) or '')[:10]}"
        ),
    )
    if st.query_params.get("version") != choice:
        st.query_params["version"] = choice
    st.caption(
        f"State: **{by_id[choice].state}** · stage {stage_text(by_id[choice].stage)} · aliases {', '.join(by_id[choice].aliases) or '—'}"
    )
    return by_id[choice]


def mlflow_links(links: dict[str, str], view: VersionView) -> None:
    """Open the version / its run where it lives (the tracking server's UI, the Databricks workspace)."""
    # With links: three buttons in a row (the run link gets the widest column, its label is the
    # longest); without, the run link on its own line, never cut to "Run in Retrain…".
    cols = st.columns([1, 1, 1.6]) if links else [st.container()]
    if links.get("version"):
        cols[0].link_button(f"v{view.version} in MLflow", links["version"], icon=":material/open_in_new:")
    if links.get("run"):
        cols[1].link_button("Its source run", links["run"], icon=":material/open_in_new:")
    if not links:
        st.caption(
            "The tracking store is local (no MLflow UI to link to): the run and its lineage are on "
            "the Retraining runs page."
        )
    if view.run_id:
        cols[-1].page_link(
            "pages/runs.py",
            label="Run in Retraining runs",
            icon=":material/model_training:",
            query_params=with_persona({"model": view.model, "run": view.run_id}),
        )


def registry_table(versions: list[VersionView], state: RegistryState, lifecycle: str) -> None:
    rows = [
        {
            "version": f"v{v.version}",
            "state": v.state,
            "stage": stage_text(v.stage),
            "aliases": ", ".join(v.aliases),
            "created by": v.created_by,
            "registered": utc_minute(registered_at(v)),
            "decision": v.tags.get("driftgate.decision", "").replace("_", " "),  # "rolled back"
            "decided by": v.tags.get("driftgate.decision_by", ""),
        }
        for v in versions
    ]
    champion = f"v{state.champion}" if state.champion else "none"
    previous = f"v{state.previous}" if state.previous else "none"
    st.caption(f"Lifecycle: **{lifecycle}** · champion: **{champion}** · rollback target: **{previous}**")
    frame = pd.DataFrame(rows)
    # Before any decision the decision columns are empty: left out, so the table fits its column.
    frame = frame.drop(
        columns=[c for c in ("decision", "decided by") if c in frame and not frame[c].astype(bool).any()]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config=fitted(
            frame,
            {
                "registered": st.column_config.TextColumn("registered (UTC)"),
                "aliases": st.column_config.TextColumn("aliases"),
            },
        ),
    )


# -- gate checklist ---------------------------------------------------------------------------------
def checklist(result: GateResult, view: VersionView | None = None) -> None:
    if view is not None and view.state == "champion":
        st.info(f"v{view.version} is the current champion: nothing to approve. Pick a candidate version.")
        return
    verdict = "passes" if result.passed else "fails"
    advisory = [c.name for c in result.checks if not c.required and c.status != "pass"]
    (st.success if result.passed else st.error)(
        f"Gate {verdict} for v{result.version} against champion v{result.champion or '-'}"
        + ("" if result.passed else f": {', '.join(c.name for c in result.blocking)}")
        + (f" · advisory, not blocking: {', '.join(advisory)}" if advisory else "")
    )
    for c in result.checks:
        st.markdown(check_line(c.name, c.status, c.required))
        st.text(c.detail)
        for key, link in c.evidence.items():
            if key.endswith("link") and link:
                st.markdown(f"[open {md(key.replace('_link', '').replace('_', ' '))} in MLflow]({link})")
    with st.expander("Evidence (all checks, JSON)"):
        st.json({c.name: c.evidence for c in result.checks}, expanded=1)


def comment_area(label: str, key: str, required: bool) -> str:
    """A decision comment box that states its limit. No ``max_chars``: the browser would drop a
    longer paste without a word; the decision refuses it with the length and the limit instead."""
    need = "required" if required else "optional"
    text = st.text_area(
        f"{label} ({need}, at most {COMMENT_MAX:,} characters)",
        key=key,
        help=f"Stored in the audit log as text. Longer than {COMMENT_MAX:,} characters is refused.",
    )
    if text and len(text) > COMMENT_MAX:
        st.warning(f"{len(text):,} characters: {len(text) - COMMENT_MAX:,} over the limit of {COMMENT_MAX:,}.")
    return text


# -- decisions ----------------------------------------------------------------------------------------
def approve_permission(settings, user: str | None, view: VersionView, result: GateResult) -> tuple[bool, str]:
    """Approve is enabled only when the user may approve, the version is a candidate and the gate passes."""
    perm = can_approve(settings, user, view)
    if not perm.allowed:
        return False, perm.reason
    if view.state == "champion":
        return False, f"v{view.version} is already the champion"
    if view.state == "rejected":
        return False, f"v{view.version} was rejected"
    if not result.passed:
        return False, "the gate fails: " + ", ".join(c.name for c in result.blocking)
    return True, f"{user} may approve v{view.version}"


def before_after(ctx, model: str, action: str, version: str | None = None) -> list[str]:
    """Exactly what the decision changes (from the plan the transition will run)."""
    try:
        return approvals.preview(ctx.settings, data.decision_client(ctx), model, action, version, ctx.user or "you")
    except DriftGateError as exc:
        return [f"cannot preview: {exc}"]


@st.dialog("Confirm approval", on_dismiss=_close_dialog)
def _approve_dialog(ctx, model: str, view: VersionView, state: RegistryState, shown: str | None) -> None:
    st.markdown(f"Promote **{md(model)} v{view.version}** (author {md(view.created_by or 'unknown')}) to champion?")
    st.caption("What will change (before → after):")
    for line in before_after(ctx, model, "approve", view.version):
        st.text(line)
    comment = comment_area("Comment", "dg_approve_comment", required=False)
    c1, c2 = st.columns(2)
    if c1.button("Confirm approval", type="primary", key="dg_approve_confirm"):
        _submit(
            lambda: approvals.approve(
                ctx.settings,
                model,
                view.version,
                ctx.user,
                comment or None,
                expected_champion=shown or "",
                client=data.decision_client(ctx),
                identity=ctx.identity,
            ),
            "approved",
        )
    if c2.button("Cancel", key="dg_approve_cancel"):
        _close_dialog()
        st.rerun()


def _submit(decide: Callable[[], dict[str, Any]], done: str) -> None:
    """Run a dialog's decision: bad input is shown in place to be fixed (the dialog stays open);
    a refusal or a finished decision closes the dialog and reloads the state (:func:`_refused`,
    :func:`_done`)."""
    try:
        rec = decide()
    except BadInput as exc:  # fix the input in place (e.g. the comment)
        st.error(str(exc))
        return
    except DriftGateError as exc:
        _refused(exc)
    _done(rec.get("reason") or done)


@st.dialog("Confirm rollback", on_dismiss=_close_dialog)
def _rollback_dialog(ctx, model: str, state: RegistryState, shown: str | None) -> None:
    st.markdown(f"Roll **{md(model)}** back to its previous champion?")
    st.caption("What will change (before → after):")
    for line in before_after(ctx, model, "rollback"):
        st.text(line)
    comment = comment_area("Why", "dg_rollback_comment", required=True)
    c1, c2 = st.columns(2)
    if c2.button("Cancel", key="dg_rollback_cancel"):
        _close_dialog()
        st.rerun()
    if c1.button("Confirm rollback", type="primary", key="dg_rollback_confirm"):
        _submit(
            lambda: approvals.rollback(
                ctx.settings,
                model,
                ctx.user,
                comment,
                expected_champion=shown or "",
                client=data.decision_client(ctx),
                identity=ctx.identity,
            ),
            "rolled back",
        )


def decision_panel(ctx, model: str, view: VersionView, state: RegistryState, result: GateResult) -> None:
    ok, reason = approve_permission(ctx.settings, ctx.user, view, result)
    st.markdown(f"**Decide on v{view.version}** as {md(ctx.user or 'anonymous')}")
    if st.button("Approve", type="primary", disabled=not ok, help=reason, key="dg_approve"):
        _open_dialog("approve", view.version, state.champion)
    opened = _dialog_open("approve", view.version)
    if ok and opened:
        _approve_dialog(ctx, model, view, state, opened["champion"])
    if not ok:
        st.caption(f"Approve disabled: {md(reason)}")
    rej = can_reject(ctx.settings, ctx.user, view)
    if rej.allowed and view.state not in ("champion", "rejected"):
        if st.session_state.pop("dg_reject_clear", False):
            st.session_state.pop("dg_reject_comment", None)
        with st.form("dg_reject_form", clear_on_submit=False):
            comment = comment_area("Reject with a comment", "dg_reject_comment", required=True)
            if st.form_submit_button("Reject"):
                try:
                    rec = approvals.reject(
                        ctx.settings,
                        model,
                        view.version,
                        ctx.user,
                        comment,
                        expected_champion=state.champion or "",
                        client=data.decision_client(ctx),
                        identity=ctx.identity,
                    )
                except BadInput as exc:  # the text stays in the box to be fixed
                    st.error(f"{exc} — nothing was recorded")
                except DriftGateError as exc:
                    _refused(exc)
                else:
                    st.session_state["dg_reject_clear"] = True
                    _done(rec.get("reason") or "rejected")
    req = can_request(ctx.settings, ctx.user, view)
    requestable = req.allowed and view.state == "candidate" and not can_approve(ctx.settings, ctx.user, view).allowed
    if requestable and st.button("Request review", key="dg_request"):
        try:
            approvals.request_review(
                ctx.settings, model, view.version, ctx.user, client=data.decision_client(ctx), identity=ctx.identity
            )
        except DriftGateError as exc:
            st.error(str(exc))
        else:
            _done(f"review of v{view.version} requested")


def rollback_panel(ctx, model: str, state: RegistryState) -> None:
    perm = can_rollback(ctx.settings, ctx.user)
    ok = perm.allowed and bool(state.previous)
    reason = (
        perm.reason
        if not perm.allowed
        else ("no previous champion to roll back to" if not state.previous else f"restore v{state.previous}")
    )
    if st.button(
        f"Roll back to v{state.previous}" if state.previous else "Roll back",
        disabled=not ok,
        help=reason,
        key="dg_rollback",
    ):
        _open_dialog("rollback", None, state.champion)
    opened = _dialog_open("rollback", None)
    if ok and opened:
        _rollback_dialog(ctx, model, state, opened["champion"])
    if not ok:
        st.caption(f"Roll back disabled: {md(reason)}")


# -- audit log ----------------------------------------------------------------------------------------
AUDIT_COLUMNS = list(audit.RECORD_KEYS)
_FIRST = ("at", "user", "action", "outcome", "version", "comment", "reason")  # the human "why" first
AUDIT_ORDER = [*_FIRST, *(c for c in AUDIT_COLUMNS if c not in _FIRST)]


AUDIT_TEXT_PX = 560  # the widest a comment/reason column gets; longer comments are listed in full below


def audit_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{k: r.get(k) for k in AUDIT_COLUMNS} for r in records], columns=AUDIT_COLUMNS)


def audit_log(records: list[dict[str, Any]]) -> None:
    if not records:
        st.info("No decisions recorded yet.")
        return
    df = audit_frame(records)
    c1, c2, c3 = st.columns(3)
    users = c1.multiselect("User", sorted(df["user"].dropna().unique()), key="dg_audit_user")
    actions = c2.multiselect("Action", ["approve", "reject", "rollback", "request"], key="dg_audit_action")
    outcomes = c3.multiselect("Outcome", ["done", "refused", "failed"], key="dg_audit_outcome")
    if users:
        df = df[df["user"].isin(users)]
    if actions:
        df = df[df["action"].isin(actions)]
    if outcomes:
        df = df[df["outcome"].isin(outcomes)]
    shown = df.iloc[::-1].assign(at=lambda f: f["at"].map(utc_second))  # the CSV keeps the ISO times
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        # What a reviewer reads first (the model is the one picked in the sidebar) before the model,
        # so reason and comment are in view at 1400 px.
        column_order=[c for c in AUDIT_ORDER if c in shown.columns],
        column_config=fitted(
            shown,
            {"comment": st.column_config.TextColumn("comment"), "reason": st.column_config.TextColumn("reason")},
            cap_px=AUDIT_TEXT_PX,
        ),
    )
    long = [r for r in shown.to_dict("records") if overflow(pd.DataFrame([r]), "comment", AUDIT_TEXT_PX)]
    if long:
        with st.expander(f"Full text of {len(long)} long comment(s)"):
            for r in long:
                st.markdown(
                    f"**{md(str(r.get('at') or ''))} · {md(str(r.get('user') or ''))}:** {md(r['comment'], limit=None)}"
                )
    st.download_button("Download CSV", audit.csv_export(df), "driftgate-audit.csv", "text/csv", key="dg_audit_csv")
