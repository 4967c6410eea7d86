"""Stored per-window profiles: incremental drift monitoring of a model's scoring log.

Each *closed* UTC day of a model's scoring log is profiled once against the model's reference
profile — the mergeable aggregates the engine already computes per window: counts at the
reference's CDF points (its cells' boundaries) and bin edges, the tails beyond its range, the
category counts, and count / sum-based mean / population std / min / max — and stored as one row of
a DuckDB file (``$DRIFTGATE_HOME/window_profiles.duckdb`` by default; ``[drift] window_store``
names another file, ``false`` turns the store off). Rows are keyed by model, reference
fingerprint, profiling-policy fingerprint and day.

What is read and what is scanned (:func:`window_profiles`):

* a cheap *watermark* query (the timestamp column only) gives every day's row count and
  ``max(event_time)``; a stored day whose watermark differs — a late-arriving row, a rewritten
  file — is re-profiled, as is every day not stored yet;
* today's day (the open window, UTC) and later days are always profiled fresh, never stored;
* only the days to profile are scanned, one grouped pass per run of consecutive such days;
* a changed reference profile invalidates the days stored against the old one (deleted, then
  re-profiled); a changed profiling policy (features, kinds, timestamp column, source) has another
  key, so nothing stored under the old one is read;
* an unwritable, locked or corrupted store is reported in one line and the caller falls back to a
  full re-scan: nothing stale is ever shown as current.

Weeks and custom ranges ("last N days") combine day profiles (:func:`combine`): every count
(bins, CDF points, tails, categories, rows, missing) is exact, so PSI, Jensen–Shannon, chi², KS and
Wasserstein are the same numbers a full re-scan of the range computes from its counts (float
rounding aside); mean and std combine exactly (Chan et al.); min and max exactly. The one
approximate figure is the ``median`` summary of a combined range: interpolated inside the CDF cell
that holds it, so off by at most that cell's width (:func:`median_error`; with the engine's 2,048
cells per reference range, about 1/2,048 of the reference's central range); a day's own median is
exact.

Why the decision policy (alpha, thresholds, overrides) is not part of the key: the stored rows hold
aggregates only; every decision is taken when the windows are read, with the policy of that moment,
so a policy change applies at once without a re-scan.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from services.drift import stats as S
from services.drift.profile import PROFILE_FORMAT, FeatureProfile, Profile
from services.errors import BadInput
from services.warehouse.sources import as_date

STORE_FORMAT = 2  # 2: CDF counts packed, the reference's edges/points not repeated per day
DEFAULT_FILE = "window_profiles.duckdb"
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


# -- fingerprints --------------------------------------------------------------------------------
def _digest(doc: Any) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_fingerprint(ref: Profile) -> str:
    """What the stored counts depend on in the reference: its edges, points, cells and categories
    (not its creation time) — a recomputed reference with other content gets another key."""
    feats = []
    for f in ref.features.values():
        doc = f.to_json()
        feats.append({k: doc.get(k) for k in ("name", "kind", "rows", "count", "edges", "points", "cells", "counts")})
    return _digest({"rows": ref.rows, "features": feats, "format": PROFILE_FORMAT})


def policy_fingerprint(source, features: Sequence[tuple[str, str]], timestamp: str, dialect: str) -> str:
    """The profiling policy: which source, which features as which kind, bucketed by which
    timestamp column, in which SQL dialect, with which grid (see the module doc on decisions)."""
    return _digest(
        {
            "source": [source.type, source.path, source.table],
            "features": [list(f) for f in features],
            "timestamp": timestamp,
            "dialect": dialect,
            "grid": S.GRID_SIZE,
            "store": STORE_FORMAT,
        }
    )


# -- the store -----------------------------------------------------------------------------------
def store_path(settings) -> Path | None:
    """``[drift] window_store``: a path (relative to the config file), ``false`` (off); default
    ``$DRIFTGATE_HOME/window_profiles.duckdb``."""
    value = settings.section("drift").get("window_store", True)
    if value is False or (isinstance(value, str) and value.strip().lower() in ("", "false", "off", "none")):
        return None
    if value is True:
        return Path(settings.home) / DEFAULT_FILE
    return settings.resolve_path(str(value))


class WindowStore:
    """One DuckDB file; opened for the duration of one read-and-update, then closed (DuckDB lets
    one process write a file at a time; a second process retries briefly, then falls back)."""

    def __init__(self, path: Path, *, retries: int = 5, wait: float = 0.2):
        import duckdb

        self.path = Path(path)
        self.con = None
        last: Exception | None = None
        for attempt in range(retries):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.con = duckdb.connect(str(self.path))
                break
            except (OSError, duckdb.Error) as exc:  # locked by another process, unwritable, not a database
                last = exc
                if "lock" not in str(exc).lower() or attempt == retries - 1:
                    break
                time.sleep(wait * (attempt + 1))
        if self.con is None:
            if last is not None and "lock" in str(last).lower():
                raise StoreUnavailable(f"profile store {self.path.name} is locked by another process") from None
            raise StoreUnavailable(_why(self.path, last or OSError("unknown"))) from None
        try:
            for stmt in _SCHEMA:
                self.con.execute(stmt)
            row = self.con.execute("SELECT value FROM store_meta WHERE name = 'format'").fetchone()
            if row is not None and row[0] != str(STORE_FORMAT):  # a cache: an older layout is dropped
                self.con.execute("DELETE FROM window_profiles")
                self.con.execute("DELETE FROM window_results")
                self.con.execute("DELETE FROM store_meta WHERE name = 'format'")
                row = None
            if row is None:
                self.con.execute("INSERT INTO store_meta VALUES ('format', ?)", [str(STORE_FORMAT)])
        except StoreUnavailable:
            self.close()
            raise
        except duckdb.Error as exc:
            self.close()
            raise StoreUnavailable(_why(self.path, exc)) from None

    def close(self) -> None:
        con, self.con = getattr(self, "con", None), None
        if con is not None:
            con.close()

    def __enter__(self) -> WindowStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def invalidate(self, model: str, reference_key: str, policy_key: str) -> int:
        """Drop the days stored for this model and profiling policy against another reference;
        how many. (Days stored under another policy — another feature set, e.g. the targets — are
        other rows, never read under this key; ``profile --backfill`` clears them.)"""
        where = "WHERE model = ? AND policy_key = ? AND reference_key <> ?"
        (n,) = self.con.execute(
            f"SELECT count(*) FROM window_profiles {where}", [model, policy_key, reference_key]
        ).fetchone()
        if n:
            self.con.execute(f"DELETE FROM window_profiles {where}", [model, policy_key, reference_key])
        return int(n)

    def clear(self, model: str) -> int:
        (n,) = self.con.execute("SELECT count(*) FROM window_profiles WHERE model = ?", [model]).fetchone()
        self.con.execute("DELETE FROM window_profiles WHERE model = ?", [model])
        self.con.execute("DELETE FROM window_results WHERE model = ?", [model])
        return int(n)

    def read_results(self, model: str, keys: tuple[str, str, str]) -> dict[date, tuple[int, str | None, str]]:
        rows = self.con.execute(
            "SELECT day, rows, max_event, result FROM window_results WHERE model = ? AND "
            "reference_key = ? AND policy_key = ? AND decision_key = ?",
            [model, *keys],
        ).fetchall()
        return {d: (int(n), m, r) for d, n, m, r in rows}

    def write_results(
        self, model: str, keys: tuple[str, str, str], items: Sequence[tuple[date, int, str | None, dict]]
    ) -> None:
        if items:
            self.con.executemany(
                "INSERT OR REPLACE INTO window_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[model, *keys, d, n, m, json.dumps(r, allow_nan=False)] for d, n, m, r in items],
            )

    def read(self, model: str, reference_key: str, policy_key: str) -> dict[date, tuple[int, str | None, str]]:
        rows = self.con.execute(
            "SELECT day, rows, max_event, profile FROM window_profiles WHERE model = ? AND "
            "reference_key = ? AND policy_key = ?",
            [model, reference_key, policy_key],
        ).fetchall()
        return {d: (int(n), m, p) for d, n, m, p in rows}

    def write(
        self, model: str, reference_key: str, policy_key: str, items: Sequence[tuple[date, int, str | None, Profile]]
    ) -> None:
        if not items:
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.executemany(
                "INSERT OR REPLACE INTO window_profiles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [model, reference_key, policy_key, d, int(n), m, json.dumps(pack(p), allow_nan=False), now]
                    for d, n, m, p in items
                ],
            )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise


def pack(prof: Profile) -> dict[str, Any]:
    """A day profile as stored: the CDF counts as packed int64 (a JSON list of 2,000 numbers per
    column per day parses slowly), without what every day shares with the reference (its edges,
    CDF points and cell map: part of the reference key, restored by :func:`unpack`)."""
    doc = prof.to_json()
    for f in doc["features"]:
        if f["kind"] == "numeric":
            for key in ("edges", "points", "cells"):
                f.pop(key, None)
            f["cdf"] = base64.b64encode(np.asarray(f.get("cdf") or [], dtype="<i8").tobytes()).decode()
    return doc


def unpack(doc: dict[str, Any], ref: Profile) -> Profile:
    """The inverse of :func:`pack` against the reference the day was profiled with."""
    cdfs = {}
    for f in doc["features"]:
        if f["kind"] == "numeric":
            cdfs[f["name"]] = np.frombuffer(base64.b64decode(f.pop("cdf")), dtype="<i8").tolist()
    prof = Profile.from_json(doc)
    for name, cdf in cdfs.items():
        ref_f, out = ref.features[name], prof.features[name]
        if len(cdf) != len(ref_f.points):
            raise ValueError("stored CDF does not match the reference's points")
        out.cdf, out.edges, out.points, out.cells = cdf, list(ref_f.edges), list(ref_f.points), ref_f.cells
    return prof


def _why(path: Path, exc: BaseException) -> str:
    text = str(exc).lower()
    if "not a valid duckdb" in text or "corrupt" in text or "invalid" in text or "magic" in text:
        return f"profile store {path.name} is corrupted (not a readable DuckDB file)"
    if isinstance(exc, PermissionError) or "permission" in text or "read-only" in text or "readonly" in text:
        return f"profile store {path.name} is not writable"
    return f"profile store {path.name} cannot be opened ({type(exc).__name__})"


# -- what to scan --------------------------------------------------------------------------------
@dataclass
class StoreInfo:
    """What a read of the store did (shown on the page, printed by ``profile``)."""

    path: str | None = None
    used: bool = False
    reused: list[str] = field(default_factory=list)  # days read from the store
    profiled: list[str] = field(default_factory=list)  # days scanned now (and stored if closed)
    late: list[str] = field(default_factory=list)  # stored days re-profiled: their watermark moved
    open: list[str] = field(default_factory=list)  # today (or later): always fresh, never stored
    gaps: list[str] = field(default_factory=list)  # days without any row between the first and last
    invalidated: int = 0
    notes: list[str] = field(default_factory=list)
    marks: dict = field(default_factory=dict, repr=False)  # day -> (rows, max event): the watermarks
    keys: tuple[str, str] = ("", "")  # (reference key, policy key)
    today: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "used": self.used,
            "reused": len(self.reused),
            "profiled": list(self.profiled),
            "late": list(self.late),
            "open": list(self.open),
            "gaps": list(self.gaps),
            "invalidated": self.invalidated,
            "notes": list(self.notes),
        }


def watermarks(backend, ts: str, bounds) -> dict[date, tuple[int, str | None]]:
    """Rows and ``max(ts)`` per UTC day inside ``bounds`` (reads the timestamp column only)."""
    from sqlglot import exp

    from services.warehouse.sql import column, render
    from services.warehouse.sql import date_bucket as _bucket
    from services.warehouse.sql import window_condition as _window_condition

    params: dict[str, Any] = {}
    q = exp.select(
        exp.alias_(_bucket(ts, "day"), "w", quoted=True),
        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        exp.alias_(exp.cast(exp.Max(this=column(ts)), "VARCHAR"), "m", quoted=True),
    ).from_(backend.table.copy())
    cond = _window_condition(ts, bounds[0], bounds[1], params)
    q = q.where(
        exp.and_(cond, exp.Not(this=exp.Is(this=column(ts), expression=exp.null())))
        if cond is not None
        else exp.Not(this=exp.Is(this=column(ts), expression=exp.null()))
    )
    q = q.group_by(_bucket(ts, "day"))
    out = {}
    for w, n, m in backend.execute(render(q, backend.dialect), params):
        d = as_date(w)
        if d is not None:
            out[d] = (int(n), None if m is None else str(m))
    return out


def _runs(days: Sequence[date], todo: set[date]) -> list[tuple[date, date]]:
    """Consecutive (in ``days`` order) days to profile as [first, last] runs: one scan per run."""
    runs: list[list[date]] = []
    prev_todo = False
    for d in days:
        if d in todo:
            if prev_todo:
                runs[-1][1] = d
            else:
                runs.append([d, d])
        prev_todo = d in todo
    return [(a, b) for a, b in runs]


Profiler = Callable[[tuple[datetime, datetime]], list[tuple[Any, Profile]]]


def window_profiles(
    settings,
    model: str,
    backend,
    source,
    features: Sequence[tuple[str, str]],
    ts: str,
    ref: Profile,
    bounds,
    profiler: Profiler,
    *,
    now: datetime | None = None,
    backfill: bool = False,
    progress=None,
) -> tuple[list[tuple[date, Profile]] | None, StoreInfo]:
    """Day profiles for every day with rows inside ``bounds``: stored ones reused, the others
    profiled by ``profiler((start, end))`` (a grouped-by-day :func:`~services.drift.pushdown.profiles_by_window` over that range)
    and stored when closed. ``(None, info)`` when the store cannot be used: the caller re-scans."""
    info = StoreInfo()
    path = store_path(settings)
    if path is None:
        info.notes.append("profile store off ([drift] window_store = false): full re-scan")
        return None, info
    info.path = str(path)
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    marks = watermarks(backend, ts, bounds)
    days = sorted(marks)
    if days:
        have = set(days)
        info.gaps = [
            (days[0] + timedelta(days=i)).isoformat()
            for i in range((days[-1] - days[0]).days + 1)
            if days[0] + timedelta(days=i) not in have
        ]
    ref_key = reference_fingerprint(ref)
    pol_key = policy_fingerprint(source, features, ts, backend.dialect)
    info.marks, info.keys, info.today = marks, (ref_key, pol_key), today
    try:
        store = WindowStore(path)
    except StoreUnavailable as exc:
        info.notes.append(f"{exc}: full re-scan (nothing read from the store)")
        return None, info
    try:
        if backfill:
            store.clear(model)
        else:
            info.invalidated = store.invalidate(model, ref_key, pol_key)
            if info.invalidated:
                info.notes.append(
                    f"reference profile changed: {info.invalidated} stored day(s) invalidated and re-profiled"
                )
        stored = store.read(model, ref_key, pol_key)
        out: dict[date, Profile] = {}
        todo: set[date] = set()
        for d in days:
            if d >= today:
                info.open.append(d.isoformat())
                todo.add(d)
                continue
            hit = stored.get(d)
            if hit is not None and (hit[0], hit[1]) == marks[d]:
                try:
                    out[d] = unpack(json.loads(hit[2]), ref)
                    info.reused.append(d.isoformat())
                    continue
                except (ValueError, KeyError, TypeError, BadInput):
                    info.notes.append(f"stored profile of {d.isoformat()} unreadable: re-profiled")
            elif hit is not None:
                info.late.append(d.isoformat())
            todo.add(d)
        fresh: list[tuple[date, int, str | None, Profile]] = []
        for a, b in _runs(days, todo):
            if progress:
                progress(f"profiling {a.isoformat()} to {b.isoformat()}")
            lo = datetime(a.year, a.month, a.day)
            hi = datetime(b.year, b.month, b.day) + timedelta(days=1)
            if bounds[0] is not None:
                lo = max(lo, bounds[0])
            if bounds[1] is not None:
                hi = min(hi, bounds[1])
            for w, prof in profiler((lo, hi)):
                d = as_date(w)
                if d is None or d not in todo:
                    continue
                out[d] = prof
                info.profiled.append(d.isoformat())
                # store closed whole days only, and only if no row arrived between the two scans
                whole = (bounds[0] is None or bounds[0] <= datetime(d.year, d.month, d.day)) and (
                    bounds[1] is None or bounds[1] >= datetime(d.year, d.month, d.day) + timedelta(days=1)
                )
                if d < today and whole and prof.rows == marks[d][0]:
                    fresh.append((d, marks[d][0], marks[d][1], prof))
        try:
            store.write(model, ref_key, pol_key, fresh)
        except Exception as exc:
            info.notes.append(
                f"profile store {path.name} not updated ({type(exc).__name__}): these days will be scanned again"
            )
        info.used = True
        return [(d, out[d]) for d in sorted(out)], info
    except Exception as exc:
        import duckdb

        if not isinstance(exc, duckdb.Error):
            raise
        info.notes.append(f"{_why(path, exc)}: full re-scan (nothing read from the store)")
        return None, info
    finally:
        store.close()


# -- stored results ------------------------------------------------------------------------------
_CODE_KEY: str | None = None


def _decision_code_key() -> str:
    """The decision code's fingerprint (engine and statistics sources): an upgrade that changes how
    a result is computed never reads a result computed before it."""
    global _CODE_KEY
    if _CODE_KEY is None:
        from services.drift import engine

        _CODE_KEY = engine.code_fingerprint()
    return _CODE_KEY


class ResultCache:
    """Per-day drift results of stored days (see ``window_results``): ``get`` a closed day's result
    while its watermark is unchanged, ``put`` new ones, ``flush`` them in one write. Any store
    error only means the results are computed again."""

    def __init__(self, settings, model: str, info: StoreInfo, policy, order: Sequence[str]):
        import dataclasses

        self.path, self.model, self.info = store_path(settings), model, info
        # importances only weight the dataset share: re-weighted on read (see drift_over_time), so
        # the nightly job's results serve the page, which knows the champion's importances
        rules = {k: v for k, v in dataclasses.asdict(policy).items() if k != "importance"}
        decision = _digest({"policy": rules, "order": list(order), "code": _decision_code_key()})
        self.keys = (info.keys[0], info.keys[1], decision)
        self.pending: list[tuple[date, int, str | None, dict]] = []
        self.cached: dict[date, tuple[int, str | None, str]] = {}
        try:
            with WindowStore(self.path) as store:
                self.cached = store.read_results(model, self.keys)
        except Exception:
            self.path = None

    def _closed(self, day: date | None) -> bool:
        return day is not None and self.info.today is not None and day < self.info.today and day in self.info.marks

    def get(self, day: date | None) -> dict | None:
        hit = self.cached.get(day) if self._closed(day) else None
        if hit is None or (hit[0], hit[1]) != self.info.marks[day]:
            return None
        try:
            return json.loads(hit[2])
        except ValueError:
            return None

    def put(self, day: date | None, result: dict) -> None:
        if self._closed(day) and self.path is not None:
            self.pending.append((day, *self.info.marks[day], result))

    def flush(self) -> None:
        if not self.pending or self.path is None:
            return
        try:
            with WindowStore(self.path) as store:
                store.write_results(self.model, self.keys, self.pending)
        except Exception:
            pass
        self.pending = []


# -- combining days ------------------------------------------------------------------------------
def _median_from_cdf(points: Sequence[float], cdf: Sequence[int], count: int) -> tuple[float | None, float | None]:
    """The median interpolated inside its CDF cell, and that cell's width (the error bound)."""
    if not count or not points or len(points) != len(cdf):
        return None, None
    target = (count - 1) * 0.5 + 1  # numpy's linear median sits between ranks floor/ceil of this
    cum = np.asarray(cdf, dtype=float)
    i = int(np.searchsorted(cum, target, side="left"))
    i = min(max(i, 0), len(points) - 1)
    if i == 0:
        return float(points[0]), 0.0
    lo, hi = float(points[i - 1]), float(points[i])
    c0, c1 = cum[i - 1], cum[i]
    frac = 0.0 if c1 <= c0 else (target - c0) / (c1 - c0)
    return lo + (hi - lo) * min(max(frac, 0.0), 1.0), hi - lo


def median_error(prof: Profile, name: str) -> float | None:
    """The bound on a combined range's median of ``name``: the width of the CDF cell holding it."""
    f = prof.features[name]
    return _median_from_cdf(f.points, f.cdf, f.count)[1] if f.kind == "numeric" else None


def combine(profiles: Sequence[Profile], ref: Profile, window: str) -> Profile:
    """One profile of a range from its day profiles (see the module doc for what is exact)."""
    if not profiles:
        raise BadInput("no day profiles to combine (the range has no rows)")
    if len(profiles) == 1:
        only = profiles[0]
        return Profile(source=only.source, rows=only.rows, engine=only.engine, features=only.features, window=window)
    rows = sum(p.rows for p in profiles)
    feats: dict[str, FeatureProfile] = {}
    for name, ref_f in ref.features.items():
        parts = [p.features[name] for p in profiles if name in p.features]
        if len(parts) != len(profiles):
            raise BadInput(f"day profiles disagree on feature {name!r}")
        count = sum(f.count for f in parts)
        if ref_f.kind == "categorical":
            counts: dict[str, int] = {}
            for f in parts:
                for k, v in f.counts.items():
                    counts[k] = counts.get(k, 0) + int(v)
            feats[name] = FeatureProfile(
                name, "categorical", rows, count, S.categorical_summary(counts, rows, ref_f.counts), counts=counts
            )
            continue
        if any(not f.cdf or len(f.cdf) != len(parts[0].cdf) for f in parts):
            raise BadInput(f"day profiles of {name!r} carry no CDF counts (not mergeable)")
        bins = np.sum([f.bins for f in parts], axis=0).astype(int).tolist()
        cdf = np.sum([f.cdf for f in parts], axis=0).astype(int).tolist()
        tails = [math.fsum(f.tails[0] for f in parts if f.tails), math.fsum(f.tails[1] for f in parts if f.tails)]
        live = [f for f in parts if f.count]
        summary: dict[str, Any] = {
            "count": count,
            "missing_share": (rows - count) / rows if rows else 0.0,
            "mean": None,
            "std": None,
            "min": None,
            "median": None,
            "max": None,
        }
        if live:
            n = np.array([f.count for f in live], dtype=float)
            means = np.array([f.summary["mean"] for f in live], dtype=float)
            stds = np.array([f.summary["std"] or 0.0 for f in live], dtype=float)
            mean = math.fsum(n * means) / count
            m2 = math.fsum(n * stds**2 + n * (means - mean) ** 2)
            median, _ = _median_from_cdf(parts[0].points, cdf, count)
            summary.update(
                mean=mean,
                std=math.sqrt(max(m2, 0.0) / count),
                min=min(f.summary["min"] for f in live),
                max=max(f.summary["max"] for f in live),
                median=median,
            )
        first = parts[0]
        feats[name] = FeatureProfile(
            name,
            "numeric",
            rows,
            count,
            summary,
            edges=list(first.edges),
            bins=bins,
            grid=[],
            points=list(first.points),
            cdf=cdf,
            tails=tails,
            cells=first.cells,
        )
    return Profile(source=profiles[0].source, rows=rows, engine=profiles[0].engine, features=feats, window=window)


def by_unit(days: Sequence[tuple[date, Profile]], unit: str, ref: Profile) -> list[tuple[date, Profile]]:
    """Day profiles grouped into the engine's windows: days as they are, weeks (ISO, from Monday,
    as DuckDB's DATE_TRUNC('week')) combined."""
    if unit == "day":
        return list(days)
    if unit != "week":
        raise BadInput("stored windows combine into days or weeks")
    weeks: dict[date, list[Profile]] = {}
    for d, p in days:
        weeks.setdefault(d - timedelta(days=d.weekday()), []).append(p)
    return [(w, combine(ps, ref, str(w))) for w, ps in sorted(weeks.items())]


# -- the headless job ----------------------------------------------------------------------------
def profile_model(
    settings, model: str, *, backfill: bool = False, now: datetime | None = None, progress=None
) -> dict[str, Any]:
    """``python -m services.cli profile``: profile (and store) every closed day of the model's
    scoring log not stored yet or whose watermark moved; ``backfill``: every day from scratch
    (a corrupted store file is moved aside and rebuilt)."""
    from services.drift.model import _select, model_data, reference_profile
    from services.drift.pushdown import profiles_by_window
    from services.warehouse.sources import open_backend

    path = store_path(settings)
    if path is None:
        raise BadInput("the profile store is off ([drift] window_store = false)")
    data = model_data(settings, model)
    if not data.timestamp:
        raise BadInput(f"model {model!r} has no timestamp column configured")
    feats = _select(data, None, False)
    moved = None
    if backfill and path.exists():
        try:
            WindowStore(path).close()
        except StoreUnavailable as exc:
            if "corrupted" not in str(exc):
                raise BadInput(str(exc)) from None
            moved = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S}")
            path.replace(moved)
            wal = path.with_name(path.name + ".wal")
            if wal.exists():
                wal.unlink()
    ref = reference_profile(settings, model, features=feats, data=data, progress=progress)
    with open_backend(data.source, settings) as b:

        def profiler(run):
            return profiles_by_window(
                b,
                feats,
                side="current",
                bounds=run,
                ts=data.timestamp,
                reference=ref,
                source=data.source.name,
                group_by="day",
                progress=progress,
            )

        days, info = window_profiles(
            settings,
            model,
            b,
            data.source,
            feats,
            data.timestamp,
            ref,
            (None, None),
            profiler,
            now=now,
            backfill=backfill,
            progress=progress,
        )
    if days is None:
        hint = " (run with --backfill to rebuild it)" if any("corrupted" in n for n in info.notes) else ""
        raise BadInput(info.notes[-1].split(": full re-scan")[0] + hint)
    if moved is not None:
        info.notes.insert(0, f"corrupted store moved aside to {moved.name} and rebuilt")
    # the days' drift results under the configured policy, so the page and the trigger only read
    from services.drift.model import drift_over_time

    drift_over_time(settings, model, unit="day", now=now)
    doc = info.to_dict()
    doc.update(
        model=model,
        store=str(path),
        reference={"window": ref.window, "rows": ref.rows},
        days=len(days),
        first=days[0][0].isoformat() if days else None,
        last=days[-1][0].isoformat() if days else None,
    )
    return doc
