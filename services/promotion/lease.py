"""The transition claim while it is held: lease heartbeat, fencing of registry writes, staleness.

A transition claims the model's row in the audit store (:meth:`AuditStore.claim`); while it works,
:class:`Fence` renews the lease every ``lease / 5`` s and checks the claim before every registry
write (:class:`FencedClient`), so a process whose claim was taken over by a recoverer stops before
its next write. :func:`claim_is_stale` says when a recoverer may take a claim over.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from services.config import Settings
from services.errors import DriftGateError
from services.promotion import audit
from services.promotion.audit import AuditStore

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


def lease_seconds(settings: Settings) -> float:
    """``[audit] lease_seconds`` (validated: >= the schema's minimum)."""
    return float(settings.section("audit")["lease_seconds"])


class Fence:
    """Holds a transition claim: a heartbeat thread renews the lease every ``lease / 5`` s, and
    :meth:`check` (a renewal that must succeed) runs before every registry write, so a process
    whose claim was taken over stops before its next write."""

    def __init__(self, settings: Settings, store: AuditStore, model: str, txn: str) -> None:
        self.store, self.model, self.txn = store, model, txn
        self.interval = max(0.5, lease_seconds(settings) / 5)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"driftgate-lease-{txn[:8]}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.store.renew(self.model, self.txn):
                    self.lost = True
                    return
            except DriftGateError:
                pass  # the next check() says so before any write

    def check(self, what: str = "a registry write") -> None:
        if self.lost or not self.store.renew(self.model, self.txn):
            self.lost = True
            raise audit.LostClaim(f"the transition claim on {self.model} was lost before {what}; nothing more written")

    def __enter__(self) -> Fence:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        audit.forget(self.txn)


class FencedClient:
    """An MLflow client whose registry writes first check the transition claim (:meth:`Fence.check`)."""

    def __init__(self, client: Any, fence: Fence) -> None:
        self._client, self._fence = client, fence

    @property
    def unfenced(self) -> Any:
        """The client this one wraps (for calls after the claim is released)."""
        return self._client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in REGISTRY_WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._fence.check(name)
            return attr(*args, **kwargs)

        return write


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


def claim_is_stale(settings: Settings, row: Mapping[str, Any], now: float | None = None) -> bool:
    """May a recoverer take this claim over? Only when its owner is provably gone or its lease
    (renewed every lease/5 s while the owner works) went unrenewed for a whole lease."""
    if _owner_dead(row.get("owner"), row.get("txn")):
        return True
    beat = row.get("started_epoch")
    return beat is not None and (time.time() if now is None else now) - float(beat) > lease_seconds(settings)
