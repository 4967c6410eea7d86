"""Drift reports: profiles in, the spec's JSON document out (the entry points).

Engines: ``memory`` (:mod:`services.drift.memory`: exact, scipy on the values) and ``duckdb`` /
``databricks`` / ``spark`` (:mod:`services.drift.pushdown`: only aggregates leave the engine). Both
feed :func:`services.drift.policy.compare`, which applies the decision rules of the spec; the
statistics are the registry in :mod:`services.drift.stats`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from services.drift import stats as S
from services.drift.features import features_from_profile, plan_features
from services.drift.memory import memory_profile
from services.drift.policy import Policy, compare
from services.drift.prefetch import ON_REFERENCE_CELLS
from services.drift.profile import Features, Profile, ProfileArgs, Progress
from services.drift.pushdown import prefetch_current, sql_profile
from services.errors import BadInput
from services.warehouse.duckdb import configure_duckdb, on_view
from services.warehouse.sources import Backend, Source, Window, on_spark, open_backend, resolve_window

if TYPE_CHECKING:
    from services.config import Settings

ConnectionFactory = Callable[..., Any]

ENGINES = ("memory", "duckdb", "spark")
# The modules whose code decides what a report says (see :func:`code_fingerprint`).
DECISION_MODULES = (
    "services.drift.engine",
    "services.drift.policy",
    "services.drift.features",
    "services.drift.memory",
    "services.drift.pushdown",
    "services.drift.reference",
    "services.drift.cells",
    "services.drift.decode",
    "services.drift.sql",
    "services.drift.numeric_sql",
    "services.drift.cell_sql",
    "services.drift.profile",
    *(f"services.drift.stats.{name}" for name in ("base", "registry", *S.TESTS)),
)


def code_fingerprint() -> str:
    """A fingerprint of the code that computes a report: a stored result computed by other code
    (an upgrade) is never read as current."""
    h = hashlib.sha256()
    for name in DECISION_MODULES:
        h.update(Path(str(sys.modules[name].__file__)).read_bytes())
    return h.hexdigest()[:16]


def profile_key(source: Source, window: Window, features: Features) -> str:
    doc = {
        "source": [source.type, source.path, source.table, source.version],
        "window": [window.timestamp, str(window.start), str(window.end), window.days],
        "features": list(map(list, features)),
        "grid": S.GRID_SIZE,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def profile_window(
    backend: Backend,
    features: Features,
    engine: str,
    window: Window,
    *,
    side: str,
    source: str,
    reference: Profile | None = None,
    progress: Progress | None = None,
) -> Profile:
    """One side's profile on ``engine`` (``memory``: exact values; else pushed down)."""
    profiler = memory_profile if engine == "memory" else sql_profile
    args: ProfileArgs = {
        "side": side,
        "bounds": resolve_window(backend, window),
        "ts": window.timestamp,
        "reference": reference,
        "source": source,
        "window": window.describe(),
        "progress": progress,
    }
    return profiler(backend, features, **args)


def build_reference_profile(
    source: Source,
    features: Features,
    *,
    window: Window | None = None,
    engine: str = "duckdb",
    settings: Settings | None = None,
    connection_factory: ConnectionFactory | None = None,
    progress: Progress | None = None,
) -> Profile:
    """Profile a reference once (store it with :meth:`Profile.save`, reuse it with :func:`drift_report`)."""
    window = window or Window()
    with open_backend(source, settings, connection_factory) as b:
        prof = profile_window(b, features, engine, window, side="reference", source=source.name, progress=progress)
    prof.key = profile_key(source, window, features)
    return prof


def drift_report(
    reference: Source | Profile,
    current: Source,
    *,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] = (),
    categorical: Sequence[str] = (),
    engine: str = "memory",
    reference_window: Window | None = None,
    current_window: Window | None = None,
    policy: Policy | None = None,
    settings: Settings | None = None,
    connection_factory: ConnectionFactory | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Reference (a source, or a stored profile) vs current: the spec's JSON report as a dict."""
    if engine not in (*ENGINES, "databricks"):
        raise BadInput(f"unknown engine {engine!r} (memory, duckdb or spark)")
    if engine == "spark":  # the same files (or Spark tables) read and aggregated by Spark
        current = on_spark(current)
        reference = reference if isinstance(reference, Profile) else on_spark(reference)
    request = Request(
        Selection(columns, tuple(numerical), tuple(categorical)),
        engine,
        reference_window or Window(),
        current_window or Window(),
        policy or Policy.from_settings(settings),
        progress,
    )
    with ExitStack() as stack:
        cur_b = stack.enter_context(open_backend(current, settings, connection_factory))
        if isinstance(reference, Profile):
            return _report(reference, cur_b, request, reference_name="reference", current_name=current.name)
        ref_b = stack.enter_context(open_backend(reference, settings, connection_factory))
        return _report(ref_b, cur_b, request, reference_name=reference.name, current_name=current.name)


@dataclass(frozen=True)
class Selection:
    """The columns asked for, and the ones forced numerical / categorical."""

    columns: Sequence[str] | None = None
    numerical: Sequence[str] = ()
    categorical: Sequence[str] = ()


@dataclass(frozen=True)
class Request:
    selection: Selection
    engine: str
    reference_window: Window
    current_window: Window
    policy: Policy
    progress: Progress | None


def _report(
    ref: Backend | Profile, cur_b: Backend, request: Request, *, reference_name: str, current_name: str
) -> dict[str, Any]:
    if request.engine != "memory":
        S.warm_up_in_background()
    sel = request.selection
    if isinstance(ref, Profile):
        features = features_from_profile(ref, cur_b, sel.columns, sel.numerical, sel.categorical)
        return _report_current(ref, cur_b, features, request, current_name, ref_is_profile=True)
    features = plan_features(ref, cur_b, columns=sel.columns, numerical=sel.numerical, categorical=sel.categorical)
    prefetch = prefetch_current(ref, cur_b, features, request.current_window) if request.engine != "memory" else None
    try:
        token = ON_REFERENCE_CELLS.set(prefetch[1]) if prefetch else None
        try:
            ref_prof = profile_window(
                ref,
                features,
                request.engine,
                request.reference_window,
                side="reference",
                source=reference_name,
                progress=request.progress,
            )
        finally:
            if token is not None:
                ON_REFERENCE_CELLS.reset(token)
        if prefetch:
            prefetch[0].wait()
        return _report_current(ref_prof, cur_b, features, request, current_name, ref_is_profile=False)
    finally:
        if prefetch:
            prefetch[0].close()


def _report_current(
    ref_prof: Profile, cur_b: Backend, features: Features, request: Request, current_name: str, *, ref_is_profile: bool
) -> dict[str, Any]:
    use_memory = request.engine == "memory" and ref_prof.exact and not ref_is_profile
    cur_prof = profile_window(
        cur_b,
        features,
        "memory" if use_memory else "duckdb",
        request.current_window,
        side="current",
        source=current_name,
        reference=ref_prof,
        progress=request.progress,
    )
    order = [n for n, _ in features]
    report = compare(ref_prof, cur_prof, request.policy, order=order, progress=request.progress)
    report["engine"] = "memory" if use_memory else cur_b.engine
    return report


def frames_report(
    reference: Any,
    current: Any,
    *,
    engine: str = "memory",
    policy: Policy | None = None,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] = (),
    categorical: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The same report for two in-memory tables (pandas DataFrames or Arrow tables), read through
    DuckDB without copying — e.g. training data vs a serving sample (skew check)."""
    con = duckdb.connect()
    configure_duckdb(con)
    try:
        backends = []
        for view, data in (("driftgate_ref", reference), ("driftgate_cur", current)):
            con.register(view, data)
            backends.append(on_view(con, view))
        request = Request(
            Selection(columns, numerical, categorical), engine, Window(), Window(), policy or Policy(), progress
        )
        return _report(backends[0], backends[1], request, reference_name="reference", current_name="current")
    finally:
        con.close()
