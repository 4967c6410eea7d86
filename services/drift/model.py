"""Drift for a configured model: its scoring log, features, reference window, windows over time.

These are the functions other services and the Drift page call:

* :func:`model_drift_report` — "drift report for model M between two windows" → the spec JSON dict
  (used by the promotion gate's training–serving skew check);
* :func:`drift_over_time` — the same tests per day/week window against one reference profile,
  from grouped aggregates in one pass (used by the trigger for per-window drift shares);
* :func:`performance_over_time` — ROC AUC / accuracy / label rate per window from delayed labels;
* :func:`reference_profile` — the model's reference profile, computed once and stored as JSON
  under ``$DRIFTGATE_HOME/profiles/`` (reused until the source/window/features change).

Model config (``[models.<name>]``): ``source``, ``features``, ``numerical``, ``categorical``,
``label``, ``prediction``, ``timestamp``, ``id_columns``, ``reference_window = {start, end}`` (or
``{version = N}`` for a Delta version), ``feature_importance = {feature = weight}``.
``[drift]``: ``current_days`` (7), ``window`` ("day"), plus the decision keys of
:class:`services.drift.engine.Policy`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlglot import exp

from services.config import ModelSpec, ReferenceWindow, Settings
from services.drift.distribution import distribution
from services.drift.engine import build_reference_profile, profile_key
from services.drift.policy import Policy, compare, weighted_share
from services.drift.profile import Profile, Progress
from services.drift.pushdown import sql_profile
from services.drift.reference_window import champion_view, choose_reference
from services.drift.stored_windows import Bounds, StoredDays, grouped_profile, store_module
from services.errors import BadInput, NotFound
from services.warehouse.base import Warehouse
from services.warehouse.sources import (
    Source,
    Window,
    as_date,
    open_backend,
    resolve_window,
    source_from_settings,
)
from services.warehouse.sql import column as col_expr

ID_UNIQUE_SHARE = 0.5  # a string column with more distinct values than this share of rows is an id
ID_MIN_UNIQUE = 50
LOW_CARDINALITY_INT = 5  # unconfigured integer columns with at most this many values are categorical


@dataclass(frozen=True)
class ModelData:
    name: str
    source: Source
    features: tuple[tuple[str, str], ...]  # (name, kind)
    timestamp: str | None
    label: str | None
    prediction: str | None
    reference: Window
    reference_version: int | None
    notes: tuple[str, ...] = ()


def model_data(
    settings: Settings, model: str, backend: Warehouse | None = None, reference: ReferenceWindow | None = None
) -> ModelData:
    """The model's scoring log, features (kinds inferred where not configured) and reference
    window (``reference``, e.g. the champion's training window, instead of the configured one)."""
    spec = settings.model_spec(model)
    if spec is None:
        raise NotFound(f"no configuration for model {model!r} ([models.{model}] with a source)")
    if not spec.source:
        raise BadInput(f"[models.{model}] has no 'source' (the scoring log to check for drift)")
    source = source_from_settings(settings, spec.source)
    features = list(spec.features) or [*spec.numerical, *spec.categorical]
    notes: list[str] = []
    ref = reference or spec.reference
    window = Window(timestamp=spec.timestamp, start=ref.start, end=ref.end)
    planned: list[tuple[str, str]] = []
    if features and backend is None:
        for f in features:
            planned.append((f, "categorical" if f in spec.categorical else "numeric" if f in spec.numerical else "?"))
    if backend is not None or any(k == "?" for _, k in planned) or not features:
        if backend is None:
            with open_backend(source, settings) as opened:
                planned, notes = _infer_features(opened, spec, features)
        else:
            planned, notes = _infer_features(backend, spec, features)
    return ModelData(
        model,
        source,
        tuple(planned),
        spec.timestamp,
        spec.label,
        spec.prediction,
        window,
        ref.version,
        tuple(notes),
    )


def _infer_features(
    backend: Warehouse, spec: ModelSpec, features: list[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Configured features keep their configured kind; otherwise numeric dtypes are numeric, and
    every other column is categorical unless it looks like an id (excluded, with a note)."""
    skip = {spec.timestamp, spec.label, spec.prediction, spec.model_version_column, *spec.id_columns}
    numerical, categorical = spec.numerical, spec.categorical
    notes: list[str] = []
    names = features or [c for c in backend.columns if c not in skip]
    out = []
    for n in names:
        if n not in backend.columns:
            raise BadInput(f"feature {n!r} is not a column of the model's data source")
        if n in numerical:
            out.append((n, "numeric"))
        elif n in categorical:
            out.append((n, "categorical"))
        elif backend.is_numeric(n):
            out.append((n, "numeric"))
        elif backend.columns[n].upper().startswith(("TIMESTAMP", "DATE")):
            notes.append(f"{n}: a date/time column, not tested")
        else:
            out.append((n, "categorical"))
    if not features and out:  # only guess when the features were not configured
        out, guessed = _guess_ids_and_codes(backend, out)
        notes += guessed
    return out, notes


def _guess_ids_and_codes(backend: Warehouse, planned: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Unconfigured features: mostly-unique strings are ids (excluded), integers with few values
    are codes (tested as categorical); one counting query."""
    cats = [n for n, k in planned if k == "categorical"]
    ints = [n for n, k in planned if k == "numeric" and "INT" in backend.columns[n].upper()]
    probe = cats + ints
    if not probe:
        return planned, []
    q = exp.select(
        exp.Count(this=exp.Star()), *[exp.Count(this=exp.Distinct(expressions=[col_expr(n)])) for n in probe]
    ).from_(backend.table.copy())
    row = backend.execute(backend.render(q), {})[0]
    rows = int(row[0]) or 1
    unique = dict(zip(probe, (int(u) for u in row[1:]), strict=True))
    notes: list[str] = []
    ids = {n for n in cats if unique[n] >= ID_MIN_UNIQUE and unique[n] / rows > ID_UNIQUE_SHARE}
    for n in sorted(ids):
        notes.append(f"{n}: looks like an id (mostly unique values), excluded")
    low = {n for n in ints if unique[n] <= LOW_CARDINALITY_INT}
    for n in sorted(low):
        notes.append(f"{n}: integer with {unique[n]} distinct values, tested as categorical")
    return [(n, "categorical" if n in low else k) for n, k in planned if n not in ids], notes


def _profiles_dir(settings: Settings) -> Path:
    return Path(settings.home) / "profiles"


def reference_profile(
    settings: Settings,
    model: str,
    *,
    window: Window | None = None,
    features: Sequence[tuple[str, str]] | None = None,
    refresh: bool = False,
    data: ModelData | None = None,
    progress: Progress | None = None,
) -> Profile:
    """The model's reference profile, computed once in the engine and stored as JSON."""
    data = data or model_data(settings, model)
    window = window or data.reference
    feats = list(features or data.features)
    source = data.source.at_version(data.reference_version) if data.reference_version is not None else data.source
    key = profile_key(source, window, feats)
    path = _profiles_dir(settings) / f"{_safe(model)}-{key}.json"
    if path.is_file() and not refresh:
        try:
            return Profile.load(path)
        except BadInput:
            pass  # unreadable: recompute
    prof = build_reference_profile(source, feats, window=window, settings=settings, progress=progress)
    with contextlib.suppress(OSError):  # a read-only workspace still gets its report
        prof.save(path)
    return prof


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80]


def current_window(
    settings: Settings, data: ModelData, start: date | None = None, end: date | None = None, days: int | None = None
) -> Window:
    if start or end:
        return Window(timestamp=data.timestamp, start=start, end=end)
    return Window(timestamp=data.timestamp, days=days or settings.sections.drift.current_days)


def model_drift_report(
    settings: Settings,
    model: str,
    *,
    reference: Window | None = None,
    reference_window: ReferenceWindow | None = None,
    current: Window | None = None,
    current_version: int | None = None,
    features: Sequence[str] | None = None,
    targets: bool = False,
    importance: dict[str, float] | None = None,
    client: Any = None,
    distributions: bool = False,
    progress: Progress | None = None,
    use_store: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Drift report (spec JSON) for model ``model``: reference window (``reference``: any window of
    the log, as the gate's training window; ``reference_window``: a reference window chosen before;
    default: with a ``client``, the one :func:`~services.drift.reference_window.choose_reference`
    picks — the champion's training window or the configured one, as the trigger; without, the
    configured one) vs current window (default: the last ``[drift] current_days`` days).
    ``targets=True`` tests the prediction (numeric) and label (categorical) instead of features.
    A date-range current window ("last N days") combines the stored day profiles
    (:mod:`services.drift.window_store`; only days not stored yet are scanned) — every count and
    statistic as a full scan; the notes say so and bound the one interpolated figure (the median)."""
    run_id = None
    if reference is None and reference_window is None and client is not None:
        chosen = choose_reference(settings, model, client)
        reference_window, run_id = chosen.window, chosen.champion.run_id if chosen.champion else None
    data = model_data(settings, model, reference=reference_window)
    feats = _select(data, features, targets)
    if importance is None and client is not None and not targets:
        importance = champion_importance(client, settings, model, run_id=run_id)
    policy = Policy.from_settings(settings, importance=_importance(settings, model, importance))
    ref = reference_profile(settings, model, window=reference, features=feats, data=data, progress=progress)
    cur_window = current or current_window(settings, data)
    source = data.source.at_version(current_version) if current_version is not None else data.source
    store_notes: list[str] = []
    with open_backend(source, settings) as b:
        bounds = resolve_window(b, cur_window)
        cur: Profile | None = None
        if (
            use_store
            and current_version is None
            and data.timestamp
            and cur_window.timestamp == data.timestamp
            and None not in bounds
        ):
            stored = StoredDays(settings, model, b, data, feats, ref, progress)
            cur, store_notes = stored.current(bounds, _describe(bounds, cur_window), now)
        if cur is None:
            cur = sql_profile(
                b,
                feats,
                side="current",
                bounds=bounds,
                ts=cur_window.timestamp,
                reference=ref,
                source=source.name,
                window=_describe(bounds, cur_window),
                progress=progress,
            )
    report = compare(ref, cur, policy, order=[n for n, _ in feats], progress=progress)
    report["engine"] = data.source.type if data.source.type in ("databricks", "spark") else "duckdb"
    report["model"] = model
    report["reference"]["window"] = ref.window
    report["current"]["window"] = cur.window
    report["notes"] = list(data.notes) + store_notes
    if distributions:
        report["distributions"] = {n: distribution(ref.features[n], cur.features[n]) for n, _ in feats}
    return report


def _describe(bounds: Bounds, window: Window) -> str:
    start, end = bounds
    if start is None and end is None:
        return window.describe()
    end_incl = (end - timedelta(days=1)).date().isoformat() if end else "…"
    return f"{start.date().isoformat() if start else '…'} to {end_incl}"


def _select(data: ModelData, features: Sequence[str] | None, targets: bool) -> list[tuple[str, str]]:
    if targets:
        out: list[tuple[str, str]] = []
        if data.prediction:
            out.append((data.prediction, "numeric"))
        if data.label:
            out.append((data.label, "categorical"))
        if features:  # a subset of the targets (e.g. the prediction alone while labels are pending)
            out = [t for t in out if t[0] in set(features)]
        if not out:
            raise BadInput(f"model {data.name!r} has no prediction or label column configured")
        return out
    feats = list(data.features)
    if features:
        known = dict(feats)
        missing = [f for f in features if f not in known]
        if missing:
            raise BadInput(f"{missing[0]!r} is not a feature of model {data.name!r}")
        feats = [(f, known[f]) for f in features]
    if not feats:
        raise BadInput(f"model {data.name!r} has no features to test")
    return feats


def _importance(settings: Settings, model: str, importance: dict[str, float] | None) -> dict[str, float] | None:
    if importance:
        return dict(importance)
    spec = settings.model_spec(model)
    cfg = spec.feature_importance if spec is not None else None
    return {str(k): float(v) for k, v in cfg.items()} if cfg else None


def champion_run_id(client: Any, settings: Settings, model: str) -> str | None:
    """The run that produced the champion version (None: no champion, the model is not
    registered, or the version has no run). Other MLflow failures are one :class:`Unavailable`
    line: a report never silently falls back to another reference."""
    view = champion_view(settings, client, model)
    return str(view.run_id) if view is not None and view.run_id else None


def champion_importance(
    client: Any, settings: Settings, model: str, *, run_id: str | None = None
) -> dict[str, float] | None:
    """The champion's logged ``feature_importance.json`` (``{feature: weight}``), or None
    (``run_id``: the champion's run when already known)."""
    run_id = run_id or champion_run_id(client, settings, model)
    if run_id is None:
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, "feature_importance.json", tmp)
            doc = json.loads(Path(path).read_text())
    except Exception:  # no such artifact (a champion trained elsewhere): no weights
        return None
    return {str(k): float(v) for k, v in doc.items()} if isinstance(doc, dict) else None


def drift_over_time(
    settings: Settings,
    model: str,
    *,
    unit: str | None = None,
    start: date | None = None,
    end: date | None = None,
    features: Sequence[str] | None = None,
    targets: bool = False,
    importance: dict[str, float] | None = None,
    progress: Progress | None = None,
    use_store: bool = True,
    now: datetime | None = None,
    reference: ReferenceWindow | None = None,
) -> dict[str, Any]:
    """Per-window drift against the reference profile (``reference``: instead of the configured
    window): ``{"unit", "features": [names], "windows": [{"start", "end", "rows", "drift_share",
    "drifted_features", "drifted", "weighted_drift_share", "features": {name: {"test",
    "statistic", "threshold", "drifted"}}}]}``.
    Windows whose tests need p-values are BH-adjusted within the window. Closed days come from the
    stored per-window profiles (:mod:`services.drift.window_store`; only days not profiled yet, or
    whose watermark moved, and today's open day are scanned — ``"store"`` says which); without a
    usable store, one grouped pass over the source."""
    data = model_data(settings, model, reference=reference)
    if not data.timestamp:
        raise BadInput(f"model {model!r} has no timestamp column configured")
    unit = unit or settings.sections.drift.window
    feats = _select(data, features, targets)
    policy = Policy.from_settings(settings, importance=_importance(settings, model, importance))
    ref = reference_profile(settings, model, features=feats, data=data, progress=progress)
    win = Window(timestamp=data.timestamp, start=start, end=end)
    with open_backend(data.source, settings) as b:
        bounds = resolve_window(b, win)
        stored = StoredDays(settings, model, b, data, feats, ref, progress)
        per, store = stored.windows(bounds, unit, use_store, now)
        if per is None:
            per = grouped_profile(b, data, feats, ref, bounds, unit, progress)
    step = {"day": timedelta(days=1), "week": timedelta(days=7)}.get(unit)
    windows = []
    results = None
    if store is not None and store.used and unit == "day":
        results = store_module().ResultCache(settings, model, store, policy, [n for n, _ in feats])
    for w, prof in per:
        wstart = as_date(w)
        cached = results.get(wstart) if results is not None else None
        if cached is not None:
            cached["weighted_drift_share"] = weighted_share(
                [{"feature": f, "drifted": v["drifted"]} for f, v in cached["features"].items()], policy.importance
            )
            windows.append(cached)
            continue
        usable = [n for n, _ in feats if prof.features[n].count > 0]
        if not usable:
            continue
        windows.append(_window_doc(w, wstart, step, prof, compare(ref, prof, policy, order=usable)))
        if results is not None:
            results.put(wstart, windows[-1])
    if results is not None:
        results.flush()
    out = {
        "model": model,
        "unit": unit,
        "features": [n for n, _ in feats],
        "reference": {"window": ref.window, "rows": ref.rows},
        "windows": windows,
    }
    if store is not None:
        out["store"] = store.to_dict()
    return out


def _window_doc(
    w: Any, wstart: date | None, step: timedelta | None, prof: Profile, rep: dict[str, Any]
) -> dict[str, Any]:
    """One window of :func:`drift_over_time` from its report."""
    wend = (wstart + step - timedelta(days=1)) if step and wstart else None
    return {
        "start": wstart.isoformat() if wstart else str(w),
        "end": wend.isoformat() if wend else None,
        "rows": prof.rows,
        "drift_share": rep["dataset"]["drift_share"],
        "drifted_features": [f["feature"] for f in rep["features"] if f["drifted"]],
        "drifted": rep["dataset"]["drifted"],
        "weighted_drift_share": rep["dataset"]["weighted_drift_share"],
        "features": {
            f["feature"]: {
                "test": f["test"],
                "statistic": f["statistic"],
                "p_value_adjusted": f["p_value_adjusted"],
                "threshold": f["threshold"],
                "drifted": f["drifted"],
                "significant": f.get("significant"),
                "alpha": f.get("alpha"),
            }
            for f in rep["features"]
        },
    }


def data_dates(settings: Settings, model: str) -> tuple[date | None, date | None]:
    """The first and the last day with rows in the model's scoring log (None, None when empty or
    without a timestamp): what a date picker defaults to and what an empty window names."""
    data = model_data(settings, model)
    if not data.timestamp:
        return None, None
    with open_backend(data.source, settings) as b:
        ts = col_expr(data.timestamp)
        q = exp.select(exp.cast(exp.Min(this=ts), "DATE"), exp.cast(exp.Max(this=ts.copy()), "DATE"))
        rows = b.execute(b.render(q.from_(b.table.copy())), {})
    if not rows or rows[0][0] is None:
        return None, None
    return as_date(rows[0][0]), as_date(rows[0][1])
