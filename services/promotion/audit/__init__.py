"""Append-only audit records and the cross-process transition guard.

The store itself is an :class:`AuditStore` (:mod:`.store`: SQLite and PostgreSQL implementations
behind one interface), injected into the decision code; :func:`store_for` gives the one store of
a configuration's ``[audit] url``. Record shape (``query``)::

    {"id", "at", "user", "action": approve|reject|rollback|request,
     "outcome": done|refused|failed, "model", "version", "version_before",
     "version_after", "reason", "comment", "evidence": {...}|null, "identity"}

``identity`` says how ``user`` was established (:data:`IDENTITIES`): authenticated by the MLflow
tracking server or Databricks, signed in (OIDC), forwarded by a trusted proxy, a demo persona, or
``self-asserted`` (a CLI ``--user`` / ``DRIFTGATE_USER`` nobody verified); ``null`` for records
written before the column existed. Callers set it with :func:`attributed` (the decision
functions take ``identity=``, see :func:`with_identity`).

The module-level functions taking ``settings`` are the same operations on ``store_for(settings)``,
for callers that hold settings rather than a store (pages, CLI).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from services.config import Settings
from services.promotion.audit.export import (
    RECORD_KEYS,
    champion_history,
    csv_cell,
    csv_export,
    spec_record,
)
from services.promotion.audit.schema import ACTIONS, COMMENT_MAX, IDENTITIES, OUTCOMES, metadata, records
from services.promotion.audit.store import (
    UNSEEN,
    AuditStore,
    LostClaim,
    PostgresAuditStore,
    Record,
    ServerAuditStore,
    SQLiteAuditStore,
    current_identity,
    dispose_stores,
    forget,
    holds,
    make_store,
    owner_id,
    store_for,
)

__all__ = [
    "RECORD_KEYS",
    "ACTIONS",
    "COMMENT_MAX",
    "IDENTITIES",
    "OUTCOMES",
    "UNSEEN",
    "AuditStore",
    "LostClaim",
    "PostgresAuditStore",
    "SQLiteAuditStore",
    "ServerAuditStore",
    "add_vote",
    "append",
    "attributed",
    "champion_history",
    "csv_cell",
    "csv_export",
    "dispose_stores",
    "engine",
    "exists",
    "forget",
    "holds",
    "in_progress",
    "latest_id",
    "make_store",
    "metadata",
    "owner_id",
    "query",
    "recent_records",
    "recorded_authors",
    "records",
    "remember_authors",
    "spec_record",
    "store_for",
    "with_identity",
]

R = TypeVar("R")


@contextmanager
def attributed(identity: str | None) -> Iterator[None]:
    """Records appended inside carry ``identity`` (how their user was established)."""
    if identity is not None and identity not in IDENTITIES:
        raise ValueError(f"unknown identity {identity!r}")
    token = current_identity.set(identity)
    try:
        yield
    finally:
        current_identity.reset(token)


def with_identity(fn: Callable[..., R]) -> Callable[..., R]:
    """Decorator: the decision function takes ``identity=`` (one of :data:`IDENTITIES`) and every
    record it appends carries it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, identity: str | None = None, **kwargs: Any) -> R:
        with attributed(identity):
            return fn(*args, **kwargs)

    return wrapper


# -- the operations of the configured store ----------------------------------------------------
def engine(settings: Settings) -> sa.Engine:
    return store_for(settings).engine


def exists(settings: Settings) -> bool:
    return store_for(settings).exists()


def append(settings: Settings, record: Record) -> int:
    return store_for(settings).append(record)


def query(settings: Settings, model: str | None = None, limit: int | None = None, **match: str | None) -> list[Record]:
    """The configured store's records (``match``: ``user`` / ``action`` / ``outcome``; see ``AuditStore.query``)."""
    return store_for(settings).query(model=model, limit=limit, **match)


def recent_records(settings: Settings, model: str | None = None, limit: int = 20) -> list[Record]:
    """The newest ``limit`` records, oldest first (``[]`` when no store exists yet)."""
    return query(settings, model=model, limit=limit)


def latest_id(settings: Settings) -> int:
    return store_for(settings).latest_id()


def in_progress(settings: Settings) -> list[Record]:
    return store_for(settings).in_progress()


def add_vote(settings: Settings, model: str, version: str, user: str, champion_token: str, at: str) -> list[str]:
    return store_for(settings).add_vote(model, version, user, champion_token, at)


def remember_authors(settings: Settings, model: str, version: str, authors: Iterable[object], at: str) -> list[str]:
    return store_for(settings).remember_authors(model, version, authors, at)


def recorded_authors(settings: Settings, model: str, version: str) -> list[str]:
    return store_for(settings).recorded_authors(model, version)
