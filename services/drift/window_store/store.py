"""The profile store: a DuckDB file in ``DRIFTGATE_HOME`` (:class:`WindowStore`) or a table in the
warehouse when the source lives there (:mod:`services.drift.window_store.spark_store`); the keys
its rows are filed under (fingerprints) and the stored rows' format (:func:`pack`)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np

from services.config import Settings
from services.drift import stats as S
from services.drift.profile import PROFILE_FORMAT, FeatureProfile, Profile
from services.warehouse.sources import Source

STORE_FORMAT = 3  # 3: one-pass day profiles (medians from cells); 2: CDF counts packed
DEFAULT_FILE = "window_profiles.duckdb"
Stored = dict[date, tuple[int, str | None, str]]  # day -> (rows, max event, payload)
DayRow = tuple[date, int, str | None, Profile]
ResultRow = tuple[date, int, str | None, dict[str, Any]]
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS window_profiles ("
    " model VARCHAR NOT NULL, reference_key VARCHAR NOT NULL, policy_key VARCHAR NOT NULL, day DATE NOT NULL,"
    " rows BIGINT NOT NULL, max_event VARCHAR, profile VARCHAR NOT NULL, profiled_at TIMESTAMP NOT NULL,"
    " PRIMARY KEY (model, reference_key, policy_key, day))",
    "CREATE TABLE IF NOT EXISTS store_meta (name VARCHAR PRIMARY KEY, value VARCHAR)",
    # a stored day's drift result under one decision policy (and decision code): read while the
    # day's watermark is unchanged, so the Drift page's history needs no statistic recomputed
    "CREATE TABLE IF NOT EXISTS window_results ("
    " model VARCHAR NOT NULL, reference_key VARCHAR NOT NULL, policy_key VARCHAR NOT NULL,"
    " decision_key VARCHAR NOT NULL, day DATE NOT NULL, rows BIGINT NOT NULL, max_event VARCHAR,"
    " result VARCHAR NOT NULL, PRIMARY KEY (model, reference_key, policy_key, decision_key, day))",
)


class StoreUnavailable(Exception):
    """The store cannot be used (unwritable, locked, corrupted, wrong format): one line."""


class ProfileStore(Protocol):
    """What the windows' logic needs of a store (a DuckDB file or a warehouse table)."""

    name: str

    def invalidate(self, model: str, reference_key: str, policy_key: str) -> int: ...
    def clear(self, model: str) -> int: ...
    def read(self, model: str, reference_key: str, policy_key: str) -> Stored: ...
    def write(self, model: str, reference_key: str, policy_key: str, items: Sequence[DayRow]) -> None: ...
    def read_results(self, model: str, keys: tuple[str, str, str]) -> Stored: ...
    def write_results(self, model: str, keys: tuple[str, str, str], items: Sequence[ResultRow]) -> None: ...
    def close(self) -> None: ...


# -- fingerprints --------------------------------------------------------------------------------
def digest(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_fingerprint(ref: Profile) -> str:
    """What the stored counts depend on in the reference: its edges, points, cells and categories
    (not its creation time) — a recomputed reference with other content gets another key."""
    feats = []
    for f in ref.features.values():
        doc = f.to_json()
        feats.append({k: doc.get(k) for k in ("name", "kind", "rows", "count", "edges", "points", "cells", "counts")})
    return digest({"rows": ref.rows, "features": feats, "format": PROFILE_FORMAT})


def policy_fingerprint(source: Source, features: Sequence[tuple[str, str]], timestamp: str, dialect: str) -> str:
    """The profiling policy: which source, which features as which kind, bucketed by which
    timestamp column, in which SQL dialect, with which grid (see the package doc on decisions)."""
    return digest(
        {
            "source": [source.type, source.path, source.table],
            "features": [list(f) for f in features],
            "timestamp": timestamp,
            "dialect": dialect,
            "grid": S.GRID_SIZE,
            "store": STORE_FORMAT,
        }
    )


# -- the stored rows' format ---------------------------------------------------------------------
def pack(prof: Profile) -> str:
    """A day profile as stored (JSON): the CDF counts as packed int64 (a JSON list of 2,000 numbers
    per column per day parses slowly), without what every day shares with the reference (its
    edges, CDF points and cell map: part of the reference key, restored by :func:`unpack`)."""
    doc = prof.to_json()
    for f in doc["features"]:
        if f["kind"] == "numeric":
            for key in ("edges", "points", "cells"):
                f.pop(key, None)
            f["cdf"] = base64.b64encode(np.asarray(f.get("cdf") or [], dtype="<i8").tobytes()).decode()
    text = json.dumps(doc, allow_nan=False)
    return _checksum(text) + text


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def intact(stored: str) -> bool:
    """Whether a stored row is what :func:`pack` wrote (checked before a day is reused: its
    profile itself is parsed only when needed)."""
    return len(stored) > 16 and _checksum(stored[16:]) == stored[:16]


def unpack(text: str, ref: Profile) -> Profile:
    """The inverse of :func:`pack` against the reference the day was profiled with (built
    directly: ``Profile.from_json`` converts every number one by one). ``ValueError``/``KeyError``/
    ``TypeError`` when the row does not parse or does not fit the reference."""
    if not intact(text):
        raise ValueError("stored day profile damaged")
    doc = json.loads(text[16:])
    if not isinstance(doc, dict) or doc.get("format") != PROFILE_FORMAT:
        raise ValueError("not a day profile of this format")
    feats: dict[str, FeatureProfile] = {}
    for f in doc["features"]:
        ref_f = ref.features[f["name"]]
        out = FeatureProfile(f["name"], f["kind"], int(f["rows"]), int(f["count"]), dict(f["summary"]))
        if f["kind"] == "numeric":
            cdf = np.frombuffer(base64.b64decode(f["cdf"]), dtype="<i8").tolist()
            if (cdf and len(cdf) != len(ref_f.points)) or len(f["bins"]) != len(ref_f.edges) + 1:
                raise ValueError("stored counts do not match the reference")
            out.cdf, out.bins, out.tails, out.grid = cdf, list(f["bins"]), list(f["tails"]), list(f.get("grid", []))
            out.edges = ref_f.edges
            if cdf:  # CDF counts at the reference's points (DuckDB); else a quantile grid (Spark)
                out.points, out.cells = ref_f.points, ref_f.cells
        else:
            out.counts = {str(k): int(v) for k, v in f["counts"].items()}
        feats[out.name] = out
    return Profile(
        source=doc["source"],
        rows=int(doc["rows"]),
        engine=doc["engine"],
        features=feats,
        window=doc.get("window", ""),
        created_at=doc.get("created_at", ""),
    )


# -- the DuckDB file -----------------------------------------------------------------------------
def store_path(settings: Settings) -> Path | None:
    """``[drift] window_store``: a path (relative to the config file), ``false`` (off); default
    ``$DRIFTGATE_HOME/window_profiles.duckdb``."""
    value = settings.section("drift").get("window_store", True)
    if value is False or (isinstance(value, str) and value.strip().lower() in ("", "false", "off", "none")):
        return None
    if value is True:
        return Path(settings.home) / DEFAULT_FILE
    return settings.resolve_path(str(value))


def why(name: str, exc: BaseException) -> str:
    """One line for a store that cannot be used."""
    text = str(exc).lower()
    if "not a valid duckdb" in text or "corrupt" in text or "invalid" in text or "magic" in text:
        return f"profile store {name} is corrupted (not a readable DuckDB file)"
    if isinstance(exc, PermissionError) or "permission" in text or "read-only" in text or "readonly" in text:
        return f"profile store {name} is not writable"
    return f"profile store {name} cannot be opened ({type(exc).__name__})"


class WindowStore:
    """One DuckDB file; opened for the duration of one read-and-update, then closed (DuckDB lets
    one process write a file at a time; a second process retries briefly, then falls back)."""

    def __init__(self, path: Path, *, retries: int = 5, wait: float = 0.2):
        self.path = Path(path)
        self.name = self.path.name
        con: duckdb.DuckDBPyConnection | None = None
        last: Exception | None = None
        for attempt in range(retries):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(self.path))
                break
            except (OSError, duckdb.Error) as exc:  # locked by another process, unwritable, not a database
                last = exc
                if "lock" not in str(exc).lower() or attempt == retries - 1:
                    break
                time.sleep(wait * (attempt + 1))
        if con is None:
            if last is not None and "lock" in str(last).lower():
                raise StoreUnavailable(f"profile store {self.name} is locked by another process") from None
            raise StoreUnavailable(why(self.name, last or OSError("unknown"))) from None
        self._con: duckdb.DuckDBPyConnection | None = con
        try:
            for stmt in _SCHEMA:
                con.execute(stmt)
            row = con.execute("SELECT value FROM store_meta WHERE name = 'format'").fetchone()
            if row is not None and row[0] != str(STORE_FORMAT):  # a cache: an older layout is dropped
                for table in ("window_profiles", "window_results"):
                    con.execute(f"DELETE FROM {table}")
                con.execute("DELETE FROM store_meta WHERE name = 'format'")
                row = None
            if row is None:
                con.execute("INSERT INTO store_meta VALUES ('format', ?)", [str(STORE_FORMAT)])
        except duckdb.Error as exc:
            self.close()
            raise StoreUnavailable(why(self.name, exc)) from None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreUnavailable(f"profile store {self.name} is closed")
        return self._con

    def close(self) -> None:
        con, self._con = getattr(self, "_con", None), None
        if con is not None:
            con.close()

    def __enter__(self) -> WindowStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, sql: str, params: list[Any]) -> int:
        row = self.con.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def invalidate(self, model: str, reference_key: str, policy_key: str) -> int:
        """Drop the days stored for this model and profiling policy against another reference;
        how many. (Days stored under another policy — another feature set, e.g. the targets — are
        other rows, never read under this key; ``profile --backfill`` clears them.)"""
        where = "WHERE model = ? AND policy_key = ? AND reference_key <> ?"
        n = self._count(f"SELECT count(*) FROM window_profiles {where}", [model, policy_key, reference_key])
        if n:
            self.con.execute(f"DELETE FROM window_profiles {where}", [model, policy_key, reference_key])
        return n

    def clear(self, model: str) -> int:
        n = self._count("SELECT count(*) FROM window_profiles WHERE model = ?", [model])
        self.con.execute("DELETE FROM window_profiles WHERE model = ?", [model])
        self.con.execute("DELETE FROM window_results WHERE model = ?", [model])
        return n

    def read_results(self, model: str, keys: tuple[str, str, str]) -> Stored:
        rows = self.con.execute(
            "SELECT day, rows, max_event, result FROM window_results WHERE model = ? AND "
            "reference_key = ? AND policy_key = ? AND decision_key = ?",
            [model, *keys],
        ).fetchall()
        return {d: (int(n), m, r) for d, n, m, r in rows}

    def write_results(self, model: str, keys: tuple[str, str, str], items: Sequence[ResultRow]) -> None:
        if items:
            self.con.executemany(
                "INSERT OR REPLACE INTO window_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[model, *keys, d, n, m, json.dumps(r, allow_nan=False)] for d, n, m, r in items],
            )

    def read(self, model: str, reference_key: str, policy_key: str) -> Stored:
        rows = self.con.execute(
            "SELECT day, rows, max_event, profile FROM window_profiles WHERE model = ? AND "
            "reference_key = ? AND policy_key = ?",
            [model, reference_key, policy_key],
        ).fetchall()
        return {d: (int(n), m, p) for d, n, m, p in rows}

    def write(self, model: str, reference_key: str, policy_key: str, items: Sequence[DayRow]) -> None:
        if not items:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.executemany(
                "INSERT OR REPLACE INTO window_profiles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[model, reference_key, policy_key, d, int(n), m, pack(p), now] for d, n, m, p in items],
            )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
