"""A configured model's day profiles through the window store (:mod:`services.drift.window_store`):
the profiler it calls for the days it lacks, a current window combined from stored days, and
per-window profiles for the drift-over-time view."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from services.config import Settings
from services.drift.profile import Profile, Progress
from services.drift.pushdown import profiles_by_window
from services.errors import BadInput
from services.warehouse.base import Warehouse

if TYPE_CHECKING:  # model.py imports this module at run time
    from services.drift.model import ModelData
    from services.drift.window_store import StoreInfo

Bounds = tuple[datetime | None, datetime | None]
PerWindow = list[tuple[Any, Profile]]  # (window key, profile), what a grouped sql_profile returns
Features = Sequence[tuple[str, str]]


def store_module() -> ModuleType:
    """:mod:`services.drift.window_store`, imported on first use: its ``job`` module imports
    :mod:`services.drift.model`, which imports this module (an import cycle at load time)."""
    from services.drift import window_store

    return window_store


def grouped_profile(
    backend: Warehouse,
    data: ModelData,
    feats: Features,
    ref: Profile,
    bounds: Bounds,
    unit: str,
    progress: Progress | None,
) -> PerWindow:
    """One grouped pass over ``bounds`` of the model's scoring log: a profile per ``unit`` window
    against the reference ``ref``."""
    if not data.timestamp:
        raise BadInput(f"{data.source.name}: no timestamp column configured: windows cannot be profiled")
    return profiles_by_window(
        backend,
        feats,
        side="current",
        bounds=bounds,
        ts=data.timestamp,
        reference=ref,
        source=data.source.name,
        group_by=unit,
        progress=progress,
    )


def day_profiler(
    backend: Warehouse, data: ModelData, feats: Features, ref: Profile, progress: Progress | None
) -> Callable[[Bounds], PerWindow]:
    """What the window store calls to profile the days it lacks: one grouped-by-day pass over a
    range of the model's scoring log against the reference ``ref``."""
    return lambda run: grouped_profile(backend, data, feats, ref, run, "day", progress)


@dataclass(frozen=True)
class StoredDays:
    """A model's stored day profiles over one open scoring log, against one reference."""

    settings: Settings
    model: str
    backend: Warehouse
    data: ModelData
    feats: Features
    ref: Profile
    progress: Progress | None = None

    def days(self, bounds: Bounds, now: datetime | None) -> tuple[list[tuple[date, Profile]] | None, StoreInfo]:
        assert self.data.timestamp is not None  # callers checked
        found: tuple[list[tuple[date, Profile]] | None, StoreInfo] = store_module().window_profiles(
            self.settings,
            self.model,
            self.backend,
            self.data.source,
            self.feats,
            self.data.timestamp,
            self.ref,
            bounds,
            day_profiler(self.backend, self.data, self.feats, self.ref, self.progress),
            now=now,
            progress=self.progress,
        )
        return found

    def current(self, bounds: Bounds, label: str, now: datetime | None) -> tuple[Profile | None, list[str]]:
        """A current window's profile combined from stored day profiles, with notes;
        ``(None, notes)`` when the store cannot be used (the caller scans the window)."""
        days, info = self.days(bounds, now)
        notes = [f"window store: {n}" for n in info.notes]
        if not days:
            return None, notes
        try:
            cur = store_module().combine([p for _, p in days], self.ref, label)
        except BadInput as exc:
            return None, [*notes, f"window store: {exc}: full scan"]
        cur.source = self.data.source.name
        if len(days) > 1:
            bounds_txt = ", ".join(
                f"{n} ±{e:.3g}" if e > 1e-9 else f"{n} exact"  # a cell of one value: float noise, not error
                for n, e in ((n, store_module().median_error(cur, n)) for n, k in self.feats if k == "numeric")
                if e is not None
            )
            notes.append(
                f"current window combined from {len(days)} day profiles ({info.to_dict()['reused']} stored, "
                f"{len(info.profiled)} scanned now); counts exact, the median interpolated within its cell"
                + (f" ({bounds_txt})" if bounds_txt else "")
            )
        return cur, notes

    def windows(
        self, bounds: Bounds, unit: str, use_store: bool, now: datetime | None
    ) -> tuple[list[tuple[date, Profile]] | None, StoreInfo | None]:
        """Per-window profiles from the window store, or ``(None, info)``: the caller then runs
        the full grouped pass."""
        if not use_store or unit not in ("day", "week"):
            return None, None
        days, info = self.days(bounds, now)
        if days is None:
            return None, info
        try:
            return store_module().by_unit(days, unit, self.ref), info
        except BadInput as exc:  # e.g. grids without CDF counts (not mergeable into weeks)
            info.notes.append(f"{exc}: full re-scan")
            return None, info
