"""Notifications of requests and decisions — never blocking a transition.

Config::

    [notify]
    webhook_url = "https://hooks.slack.com/services/..."   # Slack-compatible: POST {"text": ...}
    events = ["request", "approve", "reject", "rollback"]  # actions to send (default: all)
    outcomes = ["done", "refused", "failed"]               # default: done and failed
    timeout_seconds = 5

    [databricks]
    mirror_registry = true   # mirror decisions as Databricks model-registry comments and
                             # requests as transition requests (workspace registry, databricks-sdk)

Delivery runs on a daemon thread; failures are swallowed (counted in :data:`stats`). The URL is a
secret (Slack webhook URLs are credentials): it is never logged or shown.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from services.config import Settings
from services.registry.mlflow_client import UserMlflowClient

stats = {"sent": 0, "failed": 0}


def format_text(rec: dict[str, Any]) -> str:
    who = rec.get("user") or "someone"
    v = rec.get("version")
    model = rec.get("model")
    action = rec.get("action")
    outcome = rec.get("outcome")
    head = {
        "approve": f"{who} approved {model} v{v}",
        "reject": f"{who} rejected {model} v{v}",
        "rollback": f"{who} rolled {model} back to v{v}",
        "request": f"{who} requests a review of {model} v{v}",
    }.get(str(action), f"{who}: {action} {model} v{v}")
    if outcome != "done":
        head = f"[{outcome}] {head}"
    parts = [head]
    if rec.get("reason"):
        parts.append(str(rec["reason"]))
    if rec.get("comment"):
        parts.append(f"comment: {str(rec['comment'])[:500]}")
    return "\n".join(parts)


def _post(url: str, payload: dict[str, Any], timeout: float) -> None:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
        stats["sent"] += 1
    except Exception:
        stats["failed"] += 1


def send(settings: Settings, rec: dict[str, Any]) -> threading.Thread | None:
    """Send ``rec`` to the configured webhook in the background; returns the thread (or None)."""
    try:
        cfg = settings.section("notify")
    except Exception:
        return None
    url = cfg.get("webhook_url")
    if not url:
        return None
    events = cfg.get("events") or ["request", "approve", "reject", "rollback"]
    outcomes = cfg.get("outcomes") or ["done", "failed"]
    if rec.get("action") not in events or rec.get("outcome") not in outcomes:
        return None
    payload = {
        "text": format_text(rec),
        "driftgate": {
            k: rec.get(k)
            for k in ("at", "user", "action", "outcome", "model", "version", "version_before", "version_after")
        },
    }
    t = threading.Thread(target=_post, args=(str(url), payload, float(cfg.get("timeout_seconds", 5))), daemon=True)
    t.start()
    return t


def mirror_databricks(settings: Settings, rec: dict[str, Any], client: Any = None) -> threading.Thread | None:
    """Mirror a decision on a Databricks workspace registry (comment / transition request).

    With a per-user client (:func:`services.registry.mlflow_client.make_user_client`) the mirror is written
    with that user's token, like the decision itself; otherwise with the app's credentials."""
    try:
        enabled = bool(settings.section("databricks").get("mirror_registry"))
    except Exception:
        return None
    if (
        not enabled
        or not str(getattr(settings, "registry_uri", "")).startswith("databricks")
        or rec.get("outcome") != "done"
    ):
        return None
    if str(settings.registry_uri).startswith("databricks-uc"):
        return None  # Unity Catalog has no transition requests; the approval tag is set by the plan

    def _do() -> None:
        try:
            # lazy: databricks-sdk's import costs 3.6 s (measured, load 42) and only Databricks needs it
            from databricks.sdk import WorkspaceClient

            db = settings.databricks
            if isinstance(client, UserMlflowClient):
                creds = client.user_host_creds()
                w = WorkspaceClient(host=creds.host, token=creds.token, auth_type="pat")
            else:
                w = WorkspaceClient(host=db.host, token=db.token.get()) if db.host else WorkspaceClient()
            text = format_text(rec)
            if rec.get("action") == "request":
                w.model_registry.create_transition_request(
                    rec["model"], str(rec["version"]), "Production", comment=text
                )
            else:
                w.model_registry.create_comment(rec["model"], str(rec["version"]), text)
            stats["sent"] += 1
        except Exception:
            stats["failed"] += 1

    t = threading.Thread(target=_do, daemon=True)
    t.start()
    return t
