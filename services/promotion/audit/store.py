"""The audit store: one interface (:class:`AuditStore`), a SQLite and a PostgreSQL implementation.

Storage: SQLite ``$DRIFTGATE_HOME/audit.db`` by default, or a SQLAlchemy URL from ``[audit] url``
(a shared database when the app runs as several replicas); PostgreSQL through
``postgresql+psycopg://`` (``postgresql://`` means the same), tested against a real server.
:func:`store_for` gives the one store of a URL in this process (what callers are injected with).

Claiming a transition is one conditional ``UPDATE ... WHERE status='idle'`` in a write transaction
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the UPDATE's row lock, a concurrent claimer re-checks
``status`` once the winner commits), so exactly one process wins across processes and replicas;
MLflow itself has no compare-and-set. A transition left ``in_progress`` by a crashed process is
recovered by the next caller (:func:`services.promotion.recovery.recover`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.config import Settings, redact_uri
from services.errors import BadInput, Unavailable
from services.promotion.audit.schema import (
    ACTIONS,
    COMMENT_MAX,
    OUTCOMES,
    PG_APPEND_ONLY,
    PG_DDL_LOCK,
    PG_FUNCTION,
    SQLITE_APPEND_ONLY,
    metadata,
    pg_triggers,
    records,
    transitions,
    version_authors,
    votes,
)
from services.promotion.roles import distinct_users, identity_key

Record = dict[str, Any]
UNSEEN: Any = object()
#: How the records appended in this context were attributed (see ``attributed`` in the package).
current_identity: ContextVar[str | None] = ContextVar("driftgate_audit_identity", default=None)
# The drivers the URL schemes need, for the one-line "not installed" message.
_DRIVER_HINT = {
    "psycopg": "install psycopg[binary] as pinned in requirements.txt",
    "psycopg2": "use a postgresql+psycopg:// URL (psycopg[binary], pinned in requirements.txt)",
}


class LostClaim(Unavailable):
    """This process no longer holds the transition claim it started with (a recoverer took it
    over): it must not write to the registry nor record an outcome for it."""


# Claims this process holds right now (txn ids). A claim whose owner is this process but whose txn
# is not here was left by a call that died (an exception that skipped the release): provably gone.
_live: set[str] = set()
_live_lock = threading.Lock()


def holds(txn: str | None) -> bool:
    with _live_lock:
        return bool(txn) and txn in _live


def forget(txn: str) -> None:
    """The calling code is done with ``txn`` (released, lost or crashed)."""
    with _live_lock:
        _live.discard(txn)


def _hold(txn: str) -> None:
    with _live_lock:
        _live.add(txn)


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _row_to_json(row: Any) -> Record:
    d = dict(row._mapping)
    d.pop("txn", None)
    ev = d.get("evidence")
    try:
        d["evidence"] = json.loads(ev) if ev else None
    except ValueError:
        d["evidence"] = None
    return d


def _inserted_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every supported dialect returns it
        raise Unavailable("audit store write returned no record id")
    return int(key[0])


def _owned(model: str, txn: str) -> tuple[Any, ...]:
    return (transitions.c.model == model, transitions.c.txn == txn, transitions.c.status == "in_progress")


def _add_missing_columns(conn: sa.Connection) -> None:
    """Stores created before a column existed get it (nullable; ALTER is no UPDATE, the
    append-only triggers do not apply)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(records.name)}
    quote = conn.dialect.identifier_preparer.quote
    for col in records.columns:
        if col.name not in have and col.nullable and not col.primary_key:
            conn.exec_driver_sql(
                f"ALTER TABLE {quote(records.name)} ADD COLUMN {quote(col.name)} "
                f"{col.type.compile(dialect=conn.dialect)}"
            )


class AuditStore(ABC):
    """Append-only audit records, the cross-process transition guard, votes and version authors
    in one database (see module doc). Every failure is one secret-free line naming the store."""

    kind: ClassVar[str] = "?"

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    # -- connection and schema -------------------------------------------------------------------
    @property
    def shown_url(self) -> str:
        """The URL as messages may show it: no user name, no password."""
        return redact_uri(self.url)

    def sa_url(self) -> sa.engine.URL:
        try:
            u = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError:
            raise BadInput(f"[audit] url is not a database URL: {self.shown_url}") from None
        return u.set(drivername="postgresql+psycopg") if u.drivername == "postgresql" else u

    def exists(self) -> bool:
        """False when nothing was ever recorded (reads never create a SQLite file)."""
        return True

    def unavailable(self, what: str, exc: BaseException) -> Unavailable:
        """One secret-free line for a failing store: which store (redacted URL), what failed, why."""
        reason = type(exc).__name__
        orig = getattr(exc, "orig", None)
        if orig is not None:
            first = (str(orig).strip().splitlines() or [""])[0].strip()
            try:
                password = sa.engine.make_url(self.url).password
            except sa.exc.ArgumentError:
                password = None
            if password:
                first = first.replace(str(password), "***")
            reason = f"{type(orig).__name__}: {first[:300]}" if first else type(orig).__name__
        return Unavailable(f"audit store {self.shown_url} {what} ({reason})")

    @abstractmethod
    def _create_engine(self) -> sa.Engine: ...

    @abstractmethod
    def _append_only(self, conn: sa.Connection) -> None:
        """Create the database triggers that refuse UPDATE/DELETE on the append-only tables."""

    def create_schema(self, conn: sa.Connection) -> None:
        metadata.create_all(conn)
        _add_missing_columns(conn)
        self._append_only(conn)

    @property
    def engine(self) -> sa.Engine:
        """The store's engine; creates the schema (and the append-only triggers) on first use.
        A missing driver, a bad URL or an unreachable database is one line (exit 2)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._open()
            return self._engine

    def _open(self) -> sa.Engine:
        eng = None
        try:
            eng = self._create_engine()
            with eng.begin() as conn:
                self.create_schema(conn)
        except ImportError as exc:
            module = (exc.name or "").split(".")[0] or "its driver"
            hint = _DRIVER_HINT.get(module, f"pip install {module}")
            raise Unavailable(
                f"audit store {self.shown_url} cannot be opened: the database driver {module} is not installed; {hint}"
            ) from None
        except sa.exc.NoSuchModuleError:
            raise BadInput(f"[audit] url names an unknown database kind: {self.shown_url}") from None
        except sa.exc.SQLAlchemyError as exc:
            if eng is not None:
                eng.dispose()
            raise self.unavailable("cannot be opened", exc) from None
        except Unavailable:
            if eng is not None:
                eng.dispose()
            raise
        return eng

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- records ---------------------------------------------------------------------------------
    def append(self, record: Record, conn: sa.Connection | None = None) -> int:
        """Append one record (spec shape) and return its id. ``conn``: inside a caller's transaction."""
        if record.get("action") not in ACTIONS:
            raise ValueError(f"unknown audit action {record.get('action')!r}")
        if record.get("outcome") not in OUTCOMES:
            raise ValueError(f"unknown audit outcome {record.get('outcome')!r}")
        values = {c.name: record.get(c.name) for c in records.columns if c.name != "id"}
        values["identity"] = record.get("identity") or current_identity.get()
        if values.get("comment"):
            values["comment"] = str(values["comment"])[:COMMENT_MAX]
        if record.get("evidence") is not None and not isinstance(record["evidence"], str):
            values["evidence"] = json.dumps(record["evidence"], default=str)
        stmt = records.insert().values(**values)
        if conn is not None:
            return _inserted_id(conn.execute(stmt))
        try:
            with self.engine.begin() as c:
                return _inserted_id(c.execute(stmt))
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable(f"audit store write failed ({type(exc).__name__})") from None

    def query(
        self,
        model: str | None = None,
        limit: int | None = None,
        user: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
    ) -> list[Record]:
        """Records oldest first (the newest ``limit`` when given); ``[]`` when no store exists yet."""
        if not self.exists():
            return []
        stmt = sa.select(records)
        for col, value in ((records.c.model, model), (records.c.user, user), (records.c.action, action)):
            if value:
                stmt = stmt.where(col == value)
        if outcome:
            stmt = stmt.where(records.c.outcome == outcome)
        stmt = stmt.order_by(records.c.id.desc())
        if limit:
            stmt = stmt.limit(int(limit))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).fetchall()
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable(f"audit store read failed ({type(exc).__name__})") from None
        return [_row_to_json(r) for r in reversed(rows)]

    def latest_id(self) -> int:
        """Id of the newest record (0 when none): a cheap cache key that changes with every decision."""
        if not self.exists():
            return 0
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(sa.select(sa.func.max(records.c.id))).scalar() or 0)
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable(f"audit store read failed ({type(exc).__name__})") from None

    # -- transition guard ------------------------------------------------------------------------
    @abstractmethod
    def _ensure_transition_row(self, conn: sa.Connection, model: str) -> None:
        """The model's ``transitions`` row exists (idle when new), also when two claim it first."""

    def claim(self, model: str, txn: str, action: str, at: str, epoch: float) -> Record | None:
        """Atomically mark ``model`` as in transition for ``txn``: ``None`` when this caller won,
        else the row of the transition in progress. ``started_epoch`` is the lease (:meth:`renew`)."""
        try:
            with self.engine.begin() as conn:
                self._ensure_transition_row(conn, model)
                res = conn.execute(
                    transitions.update()
                    .where(transitions.c.model == model, transitions.c.status == "idle")
                    .values(
                        status="in_progress",
                        txn=txn,
                        owner=owner_id(),
                        action=action,
                        started_at=at,
                        started_epoch=epoch,
                        snapshot=None,
                    )
                )
                if res.rowcount == 1:
                    _hold(txn)
                    return None
                row = conn.execute(sa.select(transitions).where(transitions.c.model == model)).first()
                return dict(row._mapping) if row is not None else {}
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable(f"audit store cannot take the transition lock ({type(exc).__name__})") from None

    def renew(self, model: str, txn: str, epoch: float | None = None) -> bool:
        """Heartbeat and fencing check in one conditional UPDATE: renew ``txn``'s lease; False when
        ``txn`` no longer holds the model's claim (then nothing may be written for it)."""
        try:
            with self.engine.begin() as conn:
                res = conn.execute(
                    transitions.update()
                    .where(*_owned(model, txn))
                    .values(started_epoch=time.time() if epoch is None else epoch)
                )
                return bool(res.rowcount == 1)
        except sa.exc.SQLAlchemyError as exc:
            raise self.unavailable("cannot renew the transition lease", exc) from None

    def save_snapshot(self, model: str, txn: str, snapshot: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            res = conn.execute(
                transitions.update()
                .where(*_owned(model, txn))
                .values(snapshot=json.dumps(snapshot), started_epoch=time.time())
            )
            if res.rowcount != 1:
                raise LostClaim(f"the transition of {model} is no longer held by this process (taken over)")

    def release(self, model: str, txn: str, generation: str | None, record: Record | None = None) -> int | None:
        """End ``txn``'s transition (the model's audit generation becomes ``generation``) and
        append its record in the same transaction — only while ``txn`` still holds the claim
        (else :class:`LostClaim`, nothing recorded)."""
        try:
            with self.engine.begin() as conn:
                res = conn.execute(
                    transitions.update()
                    .where(*_owned(model, txn))
                    .values(status="idle", txn=None, owner=None, snapshot=None, state_token=generation)
                )
                if res.rowcount != 1:
                    raise LostClaim(
                        f"the transition of {model} was taken over before it ended; its outcome is not recorded"
                    )
                return self.append(record, conn=conn) if record else None
        finally:
            forget(txn)

    def generation(self, model: str) -> str | None:
        """The model's audit generation: the transaction id of the last transition that ended with
        registry writes (``None`` before the first). A decision reads it before its registry
        snapshot and checks it under the claim: a change means another transition ran in between."""
        if not self.exists():
            return None
        try:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(transitions.c.state_token).where(transitions.c.model == model)).first()
        except sa.exc.SQLAlchemyError as exc:
            raise self.unavailable("read failed", exc) from None
        return str(row[0]) if row is not None and row[0] is not None else None

    def in_progress(self) -> list[Record]:
        if not self.exists():
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(transitions).where(transitions.c.status == "in_progress")).fetchall()
        out = []
        for r in rows:
            d = dict(r._mapping)
            d["snapshot"] = json.loads(d["snapshot"]) if d.get("snapshot") else None
            out.append(d)
        return out

    def take_over(self, model: str, stale_txn: str, new_txn: str, seen_epoch: float | None = UNSEEN) -> bool:
        """Hand a crashed transition to a recovering caller (exactly one recoverer wins). With
        ``seen_epoch`` (the lease the caller judged expired), a heartbeat since then makes it fail."""
        cond = [*_owned(model, stale_txn)]
        if seen_epoch is not UNSEEN:
            cond.append(
                transitions.c.started_epoch.is_(None)
                if seen_epoch is None
                else transitions.c.started_epoch == seen_epoch
            )
        with self.engine.begin() as conn:
            res = conn.execute(
                transitions.update().where(*cond).values(txn=new_txn, owner=owner_id(), started_epoch=time.time())
            )
            if res.rowcount == 1:
                _hold(new_txn)
                return True
            return False

    # -- approval votes and version authors ------------------------------------------------------
    def add_vote(self, model: str, version: str, user: str, champion_token: str, at: str) -> list[str]:
        """Record ``user``'s approval; returns the distinct approvers for this version and champion."""
        with self.engine.begin() as conn:
            conn.execute(
                votes.insert().values(model=model, version=version, user=user, champion_token=champion_token, at=at)
            )
            rows = conn.execute(
                sa.select(votes.c.user)
                .where(votes.c.model == model, votes.c.version == version, votes.c.champion_token == champion_token)
                .order_by(votes.c.id)
            ).fetchall()
        return list(dict.fromkeys(str(u) for (u,) in rows))

    def _authors_of(self, conn: sa.Connection, model: str, version: str) -> list[str]:
        return [
            str(a)
            for (a,) in conn.execute(
                sa.select(version_authors.c.author)
                .where(version_authors.c.model == model, version_authors.c.version == str(version))
                .order_by(version_authors.c.id)
            ).fetchall()
        ]

    def remember_authors(self, model: str, version: str, authors: Iterable[object], at: str) -> list[str]:
        """Record ``authors`` of ``model`` version ``version`` (those not recorded yet) and return
        every recorded author, oldest first. Rows are never updated or deleted."""
        try:
            with self.engine.begin() as conn:
                known = self._authors_of(conn, model, version)
                for a in distinct_users(authors):
                    if identity_key(a) not in {identity_key(k) for k in known}:
                        conn.execute(
                            version_authors.insert().values(model=model, version=str(version), author=str(a), at=at)
                        )
                        known.append(str(a))
        except sa.exc.SQLAlchemyError as exc:
            raise self.unavailable("cannot record the version's authors", exc) from None
        return distinct_users(known)

    def recorded_authors(self, model: str, version: str) -> list[str]:
        """The authors recorded for a version (``[]`` when none; never creates a store)."""
        if not self.exists():
            return []
        try:
            with self.engine.connect() as conn:
                return distinct_users(self._authors_of(conn, model, version))
        except sa.exc.SQLAlchemyError as exc:
            raise self.unavailable("read failed", exc) from None


class SQLiteAuditStore(AuditStore):
    """A SQLite file (the default ``$DRIFTGATE_HOME/audit.db``): one writer at a time (``BEGIN
    IMMEDIATE``), append-only by ``RAISE(ABORT)`` triggers."""

    kind = "sqlite"

    @property
    def path(self) -> Path | None:
        u = sa.engine.make_url(self.url)
        return Path(u.database) if u.database and u.database != ":memory:" else None

    def exists(self) -> bool:
        path = self.path
        return path is None or path.is_file()

    def _create_engine(self) -> sa.Engine:
        path = self.path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        eng = sa.create_engine(
            self.sa_url(), connect_args={"timeout": 60, "check_same_thread": False}, poolclass=sa.pool.NullPool
        )

        @sa.event.listens_for(eng, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:  # pragma: no cover - driver plumbing
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            dbapi_conn.execute("PRAGMA busy_timeout = 60000")

        @sa.event.listens_for(eng, "begin")
        def _begin(conn: sa.Connection) -> None:  # pragma: no cover - driver plumbing
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock up front

        return eng

    def _append_only(self, conn: sa.Connection) -> None:
        for stmt in SQLITE_APPEND_ONLY:
            conn.exec_driver_sql(stmt)

    def _ensure_transition_row(self, conn: sa.Connection, model: str) -> None:
        conn.execute(
            sqlite_insert(transitions)
            .values(model=model, status="idle")
            .on_conflict_do_nothing(index_elements=["model"])
        )


class ServerAuditStore(AuditStore):
    """A database server shared by replicas (any SQLAlchemy URL; pooled connections, a dead
    server is one line naming the store)."""

    kind = "server"

    def _create_engine(self) -> sa.Engine:
        u = self.sa_url()
        connect_args: dict[str, Any] = {}
        if u.get_backend_name() == "postgresql" and "connect_timeout" not in u.query:
            connect_args["connect_timeout"] = 10  # an unreachable host fails in seconds, not minutes
        eng = sa.create_engine(u, pool_pre_ping=True, pool_size=2, max_overflow=8, connect_args=connect_args)

        @sa.event.listens_for(eng, "handle_error")
        def _lost(ctx: Any) -> None:  # pragma: no cover - driver plumbing
            # The server went away or refuses us (down, wrong password, network): whichever audit call
            # hit it, the user gets one line naming the store. A failed pre-ping is left to the pool,
            # which reconnects; other database errors (the append-only trigger...) stay as they are.
            if ctx.is_pre_ping or not isinstance(
                ctx.sqlalchemy_exception, (sa.exc.OperationalError, sa.exc.InterfaceError)
            ):
                return
            raise self.unavailable("is unavailable", ctx.sqlalchemy_exception) from None

        return eng

    def _append_only(self, conn: sa.Connection) -> None:
        return None  # no portable trigger syntax: PostgreSQL has its own (PostgresAuditStore)

    def _ensure_transition_row(self, conn: sa.Connection, model: str) -> None:
        if conn.execute(sa.select(transitions.c.model).where(transitions.c.model == model)).first() is None:
            conn.execute(transitions.insert().values(model=model, status="idle"))


class PostgresAuditStore(ServerAuditStore):
    """PostgreSQL (``postgresql+psycopg://``): append-only by a plpgsql trigger; replicas starting
    together create the schema once (an advisory lock)."""

    kind = "postgresql"

    def create_schema(self, conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_DDL_LOCK})
        super().create_schema(conn)

    def _append_only(self, conn: sa.Connection) -> None:
        # Created only when missing (so a role that does not own the tables can run the app).
        missing = []
        for table in PG_APPEND_ONLY:  # fixed names (module constants), not input
            have = set(
                conn.execute(
                    sa.text("SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"),
                    {"t": table},
                ).scalars()
            )
            missing += [ddl for name, ddl in pg_triggers(table).items() if name not in have]
        if missing:
            conn.exec_driver_sql(PG_FUNCTION)
            for ddl in missing:
                conn.exec_driver_sql(ddl)

    def _ensure_transition_row(self, conn: sa.Connection, model: str) -> None:
        # Two first-time claimers (no write lock up front, unlike SQLite's BEGIN IMMEDIATE) would
        # both insert: ON CONFLICT DO NOTHING lets the second fall through to the conditional UPDATE.
        conn.execute(
            pg_insert(transitions).values(model=model, status="idle").on_conflict_do_nothing(index_elements=["model"])
        )


_stores: dict[tuple[str, int], AuditStore] = {}
_stores_lock = threading.Lock()


def make_store(url: str) -> AuditStore:
    """A new store for ``url`` (the implementation its scheme asks for)."""
    try:
        backend = sa.engine.make_url(url).get_backend_name()
    except sa.exc.ArgumentError:
        raise BadInput(f"[audit] url is not a database URL: {redact_uri(url)}") from None
    if backend == "sqlite":
        return SQLiteAuditStore(url)
    if backend == "postgresql":
        return PostgresAuditStore(url)
    return ServerAuditStore(url)


def store_for(settings: Settings) -> AuditStore:
    """The one store of ``settings``' ``[audit] url`` in this process."""
    key = (settings.audit_url, os.getpid())
    with _stores_lock:
        found = _stores.get(key)
        if found is None:
            found = _stores[key] = make_store(settings.audit_url)
        return found


def dispose_stores(prefix: str = "") -> None:
    """Close (and forget) this process's stores whose URL starts with ``prefix`` (tests)."""
    with _stores_lock:
        for key in [k for k in _stores if k[0].startswith(prefix)]:
            _stores.pop(key).dispose()
