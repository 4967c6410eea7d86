"""What to read from the store and what to scan: watermarks, late rows, invalidation, fallback."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from services.config import Settings
from services.drift.profile import Profile
from services.drift.window_store import profiling
from services.drift.window_store.store import (
    DayRow,
    ProfileStore,
    ResultRow,
    Stored,
    StoreUnavailable,
    WindowStore,
    digest,
    intact,
    policy_fingerprint,
    reference_fingerprint,
    store_path,
    unpack,
    why,
)
from services.warehouse.sources import Backend, Source, as_date

Profiler = Callable[[tuple[datetime, datetime]], list[tuple[Any, Profile]]]
Progress = Callable[[str], None]
Opener = Callable[[], ProfileStore]


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
    marks: profiling.Marks = field(default_factory=dict, repr=False)  # day -> (rows, max event)
    files: profiling.Files | None = field(default=None, repr=False)  # day -> its Parquet files
    keys: tuple[str, str] = ("", "")  # (reference key, policy key)
    today: date | None = None
    opener: Opener | None = field(default=None, repr=False)  # the store, again (results)

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


class StoredProfile(Profile):
    """A stored day's profile, parsed on first use: the Drift page's history reads stored results
    for most days and never needs their profiles."""

    def __init__(self, text: str, ref: Profile):
        self.__dict__["_lazy"] = (text, ref)

    def __getattr__(self, name: str) -> Any:
        lazy = self.__dict__.pop("_lazy", None)
        if lazy is None:
            raise AttributeError(name)
        self.__dict__.update(unpack(*lazy).__dict__)
        return getattr(self, name)


def open_store(settings: Settings, backend: Backend, source: Source) -> tuple[str, Opener] | None:
    """Where this source's profiles are stored: a table beside a warehouse source (Spark), else
    the DuckDB file; ``None`` when the store is off."""
    path = store_path(settings)
    if path is None:
        return None
    if source.type == "spark":
        from services.drift.window_store.spark_store import SparkStore

        table = SparkStore.table_for(source)
        return f"spark:{table}", lambda: SparkStore(backend.conn, table)
    return str(path), lambda: WindowStore(path)


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


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _gaps(days: Sequence[date]) -> list[str]:
    if not days:
        return []
    have = set(days)
    span = (days[-1] - days[0]).days + 1
    return [(days[0] + timedelta(days=i)).isoformat() for i in range(span) if days[0] + timedelta(days=i) not in have]


def _select(
    info: StoreInfo, days: Sequence[date], stored: Stored, ref: Profile, today: date
) -> tuple[dict[date, Profile], set[date]]:
    """Stored days whose watermark still holds (reused), and the days to scan."""
    out: dict[date, Profile] = {}
    todo: set[date] = set()
    for d in days:
        hit = stored.get(d)
        if d >= today:
            info.open.append(d.isoformat())
        elif hit is not None and (hit[0], hit[1]) == info.marks[d]:
            if intact(hit[2]):
                out[d] = StoredProfile(hit[2], ref)
                info.reused.append(d.isoformat())
                continue
            info.notes.append(f"stored profile of {d.isoformat()} unreadable: re-profiled")
        elif hit is not None:
            info.late.append(d.isoformat())
        todo.add(d)
    return out, todo


def window_profiles(
    settings: Settings,
    model: str,
    backend: Backend,
    source: Source,
    features: Sequence[tuple[str, str]],
    ts: str,
    ref: Profile,
    bounds: profiling.Bounds,
    profiler: Profiler,
    *,
    now: datetime | None = None,
    backfill: bool = False,
    progress: Progress | None = None,
) -> tuple[list[tuple[date, Profile]] | None, StoreInfo]:
    """Day profiles for every day with rows inside ``bounds``: stored ones reused, the others
    profiled — on DuckDB by :func:`profiling.day_profiles` (every day to scan in one grouped
    pass), elsewhere by ``profiler((start, end))`` (the engine's ``profiles_by_window``) — and
    stored when closed. ``(None, info)`` when the store cannot be used: the caller re-scans."""
    info = StoreInfo()
    where = open_store(settings, backend, source)
    if where is None:
        info.notes.append("profile store off ([drift] window_store = false): full re-scan")
        return None, info
    info.path, info.opener = where
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    info.marks, info.files = profiling.watermarks(backend, source, ts, bounds)
    days = sorted(info.marks)
    info.gaps = _gaps(days)
    ref_key, pol_key = reference_fingerprint(ref), policy_fingerprint(source, features, ts, backend.dialect)
    info.keys, info.today = (ref_key, pol_key), today
    name = Path(info.path).name
    try:
        store = info.opener()
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
        out, todo = _select(info, days, store.read(model, ref_key, pol_key), ref, today)
        fresh = _scan(info, backend, features, ts, ref, bounds, profiler, days, todo, source.name, out, progress)
        try:
            store.write(model, ref_key, pol_key, fresh)
        except Exception as exc:
            info.notes.append(
                f"profile store {name} not updated ({type(exc).__name__}): these days will be scanned again"
            )
        info.used = True
        return [(d, out[d]) for d in sorted(out)], info
    except (duckdb.Error, StoreUnavailable) as exc:
        info.notes.append(
            f"{why(name, exc) if isinstance(exc, duckdb.Error) else exc}: full re-scan (nothing read from the store)"
        )
        return None, info
    finally:
        store.close()


def _scan(
    info: StoreInfo,
    backend: Backend,
    features: Sequence[tuple[str, str]],
    ts: str,
    ref: Profile,
    bounds: profiling.Bounds,
    profiler: Profiler,
    days: Sequence[date],
    todo: set[date],
    source: str,
    out: dict[date, Profile],
    progress: Progress | None,
) -> list[DayRow]:
    """Profile the days to scan (one pass per run of consecutive such days) into ``out``; the
    closed whole days among them, to store."""
    fresh: list[DayRow] = []
    one_pass = profiling.can_profile(backend, ref, features)
    for a, b in _runs(days, todo):
        if progress:
            progress(f"profiling {a.isoformat()} to {b.isoformat()}")
        lo, hi = _midnight(a), _midnight(b) + timedelta(days=1)
        lo = max(lo, bounds[0]) if bounds[0] is not None else lo
        hi = min(hi, bounds[1]) if bounds[1] is not None else hi
        if one_pass:
            files = None
            if info.files is not None:
                files = sorted({f for d in days if a <= d <= b for f in info.files.get(d, ())})
            got = profiling.day_profiles(backend, features, ref, ts, (lo, hi), source, files)
        else:
            got = profiler((lo, hi))
        for w, prof in got:
            d = as_date(w)
            if d is None or d not in todo:
                continue
            out[d] = prof
            info.profiled.append(d.isoformat())
            # store closed whole days only, and only if no row arrived between the two reads
            whole = (bounds[0] is None or bounds[0] <= _midnight(d)) and (
                bounds[1] is None or bounds[1] >= _midnight(d) + timedelta(days=1)
            )
            if info.today is not None and d < info.today and whole and prof.rows == info.marks[d][0]:
                fresh.append((d, info.marks[d][0], info.marks[d][1], prof))
    return fresh


# -- stored results ------------------------------------------------------------------------------
_CODE_KEY: list[str] = []


def _decision_code_key() -> str:
    """The decision code's fingerprint (engine and statistics sources): an upgrade that changes how
    a result is computed never reads a result computed before it."""
    if not _CODE_KEY:
        from services.drift import engine

        _CODE_KEY.append(engine.code_fingerprint())
    return _CODE_KEY[0]


class ResultCache:
    """Per-day drift results of stored days (see ``window_results``): ``get`` a closed day's result
    while its watermark is unchanged, ``put`` new ones, ``flush`` them in one write. Any store
    error only means the results are computed again."""

    def __init__(self, settings: Settings, model: str, info: StoreInfo, policy: Any, order: Sequence[str]):
        self.opener, self.model, self.info = info.opener, model, info
        # importances only weight the dataset share: re-weighted on read (see drift_over_time), so
        # the nightly job's results serve the page, which knows the champion's importances
        rules = {k: v for k, v in dataclasses.asdict(policy).items() if k != "importance"}
        decision = digest({"policy": rules, "order": list(order), "code": _decision_code_key()})
        self.keys = (info.keys[0], info.keys[1], decision)
        self.pending: list[ResultRow] = []
        self.cached: Stored = {}
        if self.opener is None:
            return
        try:
            store = self.opener()
            try:
                self.cached = store.read_results(model, self.keys)
            finally:
                store.close()
        except Exception:
            self.opener = None

    def _closed(self, day: date | None) -> bool:
        return day is not None and self.info.today is not None and day < self.info.today and day in self.info.marks

    def get(self, day: date | None) -> dict[str, Any] | None:
        if day is None or not self._closed(day):
            return None
        hit = self.cached.get(day)
        if hit is None or (hit[0], hit[1]) != self.info.marks[day]:
            return None
        try:
            doc = json.loads(hit[2])
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, day: date | None, result: dict[str, Any]) -> None:
        if day is not None and self._closed(day) and self.opener is not None:
            self.pending.append((day, *self.info.marks[day], result))

    def flush(self) -> None:
        if not self.pending or self.opener is None:
            return
        try:
            store = self.opener()
            try:
                store.write_results(self.model, self.keys, self.pending)
            finally:
                store.close()
        except Exception:
            pass
        self.pending = []
