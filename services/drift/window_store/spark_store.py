"""The profile store as a table in the warehouse, for sources that live there (``type = "spark"``):
``driftgate_window_profiles`` in the source table's schema (the session's current schema for a
source given by path), created on first use.

Append-only, newest row wins: every write appends rows stamped ``profiled_at``; a backfill appends a
``clear`` marker (older rows of the model are ignored), a changed reference an ``invalidate``
marker (counted once). No UPDATE/DELETE/MERGE is needed, so the same statements work on a plain
Spark catalog (Parquet tables) and on Databricks (Delta). Days are keyed as in the DuckDB file
(model, reference, policy, day); results carry their decision key."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from services.drift.window_store.store import DayRow, ResultRow, Stored, StoreUnavailable, pack
from services.warehouse.sources import Source

TABLE = "driftgate_window_profiles"
_COLUMNS = (
    ("model", "STRING"),
    ("kind", "STRING"),  # profile | result | clear | invalidate
    ("reference_key", "STRING"),
    ("policy_key", "STRING"),
    ("decision_key", "STRING"),
    ("day", "DATE"),
    ("rows", "BIGINT"),
    ("max_event", "STRING"),
    ("payload", "STRING"),
    ("profiled_at", "TIMESTAMP"),
)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


class SparkStore:
    """The store's rows in a Spark / Databricks table, through the source's Spark session."""

    def __init__(self, spark: Any, table: str):
        self.spark, self.table, self.name = spark, table, table
        cols = ", ".join(f"{n} {t}" for n, t in _COLUMNS)
        self._sql(f"CREATE TABLE IF NOT EXISTS IDENTIFIER(:t) ({cols})", {})  # constant column list

    @staticmethod
    def table_for(source: Source) -> str:
        """``catalog.schema.driftgate_window_profiles`` beside the source table."""
        parts = str(source.table or "").split(".")
        return ".".join([*parts[:-1], TABLE]) if len(parts) > 1 else TABLE

    def _sql(self, sql: str, args: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return [tuple(r) for r in self.spark.sql(sql, args={"t": self.table, **args}).collect()]
        except Exception as exc:  # any Spark / Connect error: the store is not usable
            raise StoreUnavailable(f"profile store table {self.table} unusable ({_first_line(exc)})") from None

    def _append(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        schema = ", ".join(f"{n} {t}" for n, t in _COLUMNS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.spark.createDataFrame(rows, schema=schema).write.insertInto(self.table)
        except Exception as exc:
            raise StoreUnavailable(f"profile store table {self.table} not writable ({_first_line(exc)})") from None

    def _marker(self, model: str, kind: str, reference_key: str = "", policy_key: str = "") -> None:
        self._append([(model, kind, reference_key, policy_key, "", None, None, None, None, _now())])

    def _since(self, model: str, kind: str, policy_key: str | None = None) -> datetime | None:
        """When the newest ``kind`` marker (of ``policy_key``) or ``clear`` of the model was written."""
        rows = self._sql(
            "SELECT max(profiled_at) FROM IDENTIFIER(:t) WHERE model = :m AND (kind = 'clear' OR "
            "(kind = :k AND policy_key = :p))",
            {"m": model, "k": kind, "p": policy_key or ""},
        )
        return rows[0][0] if rows else None

    def _latest(self, sql: str, args: dict[str, Any], since: datetime | None) -> Stored:
        out: dict[date, tuple[datetime, int, str | None, str]] = {}
        for d, n, m, payload, at in self._sql(sql, args):
            if since is not None and at <= since:
                continue
            if d not in out or at > out[d][0]:
                out[d] = (at, int(n), m, payload)
        return {d: (n, m, p) for d, (_, n, m, p) in out.items()}

    def invalidate(self, model: str, reference_key: str, policy_key: str) -> int:
        since = self._since(model, "invalidate", policy_key)
        rows = self._sql(
            "SELECT count(*) FROM IDENTIFIER(:t) WHERE model = :m AND kind = 'profile' AND policy_key = :p "
            "AND reference_key <> :r" + (" AND profiled_at > :s" if since is not None else ""),
            {"m": model, "p": policy_key, "r": reference_key, **({"s": since} if since is not None else {})},
        )
        n = int(rows[0][0]) if rows else 0
        if n:
            self._marker(model, "invalidate", reference_key, policy_key)
        return n

    def clear(self, model: str) -> int:
        since = self._since(model, "clear")
        rows = self._sql(
            "SELECT count(*) FROM IDENTIFIER(:t) WHERE model = :m AND kind = 'profile'"
            + (" AND profiled_at > :s" if since is not None else ""),
            {"m": model, **({"s": since} if since is not None else {})},
        )
        self._marker(model, "clear")
        return int(rows[0][0]) if rows else 0

    def read(self, model: str, reference_key: str, policy_key: str) -> Stored:
        return self._latest(
            "SELECT day, rows, max_event, payload, profiled_at FROM IDENTIFIER(:t) WHERE model = :m AND "
            "kind = 'profile' AND reference_key = :r AND policy_key = :p",
            {"m": model, "r": reference_key, "p": policy_key},
            self._since(model, "clear"),
        )

    def write(self, model: str, reference_key: str, policy_key: str, items: Sequence[DayRow]) -> None:
        now = _now()
        self._append(
            [(model, "profile", reference_key, policy_key, "", d, int(n), m, pack(p), now) for d, n, m, p in items]
        )

    def read_results(self, model: str, keys: tuple[str, str, str]) -> Stored:
        return self._latest(
            "SELECT day, rows, max_event, payload, profiled_at FROM IDENTIFIER(:t) WHERE model = :m AND "
            "kind = 'result' AND reference_key = :r AND policy_key = :p AND decision_key = :d",
            {"m": model, "r": keys[0], "p": keys[1], "d": keys[2]},
            self._since(model, "clear"),
        )

    def write_results(self, model: str, keys: tuple[str, str, str], items: Sequence[ResultRow]) -> None:
        now = _now()
        self._append(
            [(model, "result", *keys, d, int(n), m, json.dumps(r, allow_nan=False), now) for d, n, m, r in items]
        )

    def close(self) -> None:
        """The session belongs to the backend: nothing to close."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
