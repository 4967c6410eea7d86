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

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from services.drift import stats as S
from services.drift.engine import build_reference_profile, profile_key
from services.drift.policy import Policy, compare, weighted_share
from services.drift.profile import Profile
from services.drift.pushdown import profiles_by_window, sql_profile
from services.errors import BadInput, NotFound
from services.registry.lifecycle import make_lifecycle
from services.warehouse.sources import (
    Source,
    Window,
    as_date,
    open_backend,
    parse_date,
    resolve_window,
    source_from_settings,
)

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


def model_data(settings, model: str, backend=None) -> ModelData:
    cfg = settings.model(model)
    if not cfg:
        raise NotFound(f"no configuration for model {model!r} ([models.{model}] with a source)")
    if not cfg.get("source"):
        raise BadInput(f"[models.{model}] has no 'source' (the scoring log to check for drift)")
    source = source_from_settings(settings, str(cfg["source"]))
    ts = cfg.get("timestamp")
    numerical = list(cfg.get("numerical", []))
    categorical = list(cfg.get("categorical", []))
    features = list(cfg.get("features", [])) or numerical + categorical
    notes: list[str] = []
    ref_doc = dict(cfg.get("reference_window") or {})
    version = ref_doc.pop("version", None)
    reference = Window(
        timestamp=ts,
        start=parse_date(ref_doc["start"]) if ref_doc.get("start") else None,
        end=parse_date(ref_doc["end"]) if ref_doc.get("end") else None,
    )
    planned: list[tuple[str, str]] = []
    if features and backend is None:
        for f in features:
            planned.append((f, "categorical" if f in categorical else "numeric" if f in numerical else "?"))
    if backend is not None or any(k == "?" for _, k in planned) or not features:
        close = None
        if backend is None:
            close = open_backend(source, settings)
            backend = close.__enter__()
        try:
            planned, notes = _infer_features(backend, cfg, features, numerical, categorical)
        finally:
            if close is not None:
                close.__exit__(None, None, None)
    return ModelData(
        model,
        source,
        tuple(planned),
        ts,
        cfg.get("label"),
        cfg.get("prediction"),
        reference,
        int(version) if version is not None else None,
        tuple(notes),
    )


def _infer_features(backend, cfg, features, numerical, categorical) -> tuple[list[tuple[str, str]], list[str]]:
    """Configured features keep their configured kind; otherwise numeric dtypes are numeric, and
    every other column is categorical unless it looks like an id (excluded, with a note)."""
    skip = {
        cfg.get("timestamp"),
        cfg.get("label"),
        cfg.get("prediction"),
        cfg.get("model_version_column"),
        *cfg.get("id_columns", []),
    }
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
        from sqlglot import exp

        from services.warehouse.sql import column as col_expr
        from services.warehouse.sql import render

        cats = [n for n, k in out if k == "categorical"]
        ints = [n for n, k in out if k == "numeric" and "INT" in backend.columns[n].upper()]
        probe = cats + ints
        if probe:
            q = exp.select(
                exp.Count(this=exp.Star()), *[exp.Count(this=exp.Distinct(expressions=[col_expr(n)])) for n in probe]
            ).from_(backend.table.copy())
            row = backend.execute(render(q, backend.dialect), {})[0]
            rows = int(row[0]) or 1
            unique = dict(zip(probe, (int(u) for u in row[1:])))
            ids = {n for n in cats if unique[n] >= ID_MIN_UNIQUE and unique[n] / rows > ID_UNIQUE_SHARE}
            for n in sorted(ids):
                notes.append(f"{n}: looks like an id (mostly unique values), excluded")
            low = {n for n in ints if unique[n] <= LOW_CARDINALITY_INT}
            for n in sorted(low):
                notes.append(f"{n}: integer with {unique[n]} distinct values, tested as categorical")
            out = [(n, "categorical" if n in low else k) for n, k in out if n not in ids]
    return out, notes


def _profiles_dir(settings) -> Path:
    return Path(settings.home) / "profiles"


def reference_profile(
    settings,
    model: str,
    *,
    window: Window | None = None,
    features=None,
    refresh: bool = False,
    data: ModelData | None = None,
    progress=None,
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
    try:
        prof.save(path)
    except OSError:
        pass  # a read-only workspace still gets its report
    return prof


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80]


def current_window(
    settings, data: ModelData, start: date | None = None, end: date | None = None, days: int | None = None
) -> Window:
    if start or end:
        return Window(timestamp=data.timestamp, start=start, end=end)
    days = days or int(settings.section("drift").get("current_days", 7))
    return Window(timestamp=data.timestamp, days=days)


def model_drift_report(
    settings,
    model: str,
    *,
    reference: Window | None = None,
    current: Window | None = None,
    current_version: int | None = None,
    features: Sequence[str] | None = None,
    targets: bool = False,
    importance: dict[str, float] | None = None,
    client=None,
    distributions: bool = False,
    progress=None,
    use_store: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Drift report (spec JSON) for model ``model``: reference window (default: the configured
    reference window) vs current window (default: the last ``[drift] current_days`` days).
    ``targets=True`` tests the prediction (numeric) and label (categorical) instead of features.
    A date-range current window ("last N days") combines the stored day profiles
    (:mod:`services.drift.window_store`; only days not stored yet are scanned) — every count and
    statistic as a full scan; the notes say so and bound the one interpolated figure (the median)."""
    data = model_data(settings, model)
    feats = _select(data, features, targets)
    if importance is None and client is not None and not targets:
        importance = champion_importance(client, settings, model)
    policy = Policy.from_settings(settings, importance=_importance(settings, model, importance))
    if reference is None and data.reference.empty_filter and data.reference_version is None and client is not None:
        reference = champion_training_window(client, settings, model, data.timestamp)
    ref = reference_profile(settings, model, window=reference, features=feats, data=data, progress=progress)
    cur_window = current or current_window(settings, data)
    source = data.source.at_version(current_version) if current_version is not None else data.source
    store_notes: list[str] = []
    with open_backend(source, settings) as b:
        bounds = resolve_window(b, cur_window)
        cur = None
        if (
            use_store
            and current_version is None
            and data.timestamp
            and cur_window.timestamp == data.timestamp
            and None not in bounds
        ):
            cur, store_notes = _stored_range(
                settings, model, b, data, feats, ref, bounds, _describe(bounds, cur_window), now, progress
            )
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


def distribution(ref, cur) -> dict[str, Any]:
    """Bin (numeric) or category counts of both sides, for overlaid distribution charts."""
    if ref.kind == "numeric":
        edges = ref.edges
        labels = []
        for i in range(len(edges) + 1):
            lo = "-inf" if i == 0 else f"{edges[i - 1]:.4g}"
            hi = "+inf" if i == len(edges) else f"{edges[i]:.4g}"
            labels.append(f"({lo}, {hi}" + (")" if i == len(edges) else "]"))
        return {
            "kind": "numeric",
            "labels": labels,
            "edges": list(edges),
            "reference": list(ref.bins),
            "current": list(cur.bins),
            "reference_grid": ref.grid[::10],
            "current_grid": cur.grid[::10],
            "reference_ecdf": ecdf_points(ref),
            "current_ecdf": ecdf_points(cur),
        }
    cats, rc, cc = S.align_categories(ref.counts, cur.counts)
    return {"kind": "categorical", "labels": cats, "reference": rc, "current": cc}


def ecdf_points(prof, limit: int = 400) -> dict[str, list[float]]:
    """A numeric profile's empirical CDF as step points ``{"x": [...], "y": [...]}`` (y in 0..1).

    From the counts at the reference's CDF points (both engines keep them; a grid is only kept
    for some columns), else the quantile grid, else the decile edges and bin counts. Repeated x
    (integer columns: many points share one value) keep the highest count, so the chart steps
    at each value; at most ``limit`` points."""
    import numpy as np

    count = int(prof.count or 0)
    xs: np.ndarray
    ys: np.ndarray
    if count and prof.points and len(prof.points) == len(prof.cdf):
        xs = np.asarray(prof.points, dtype=float)
        ys = np.asarray(prof.cdf, dtype=float) / count
    elif prof.grid:
        xs = np.asarray(prof.grid, dtype=float)
        ys = np.linspace(0.0, 1.0, len(xs))
    elif count and prof.edges and len(prof.bins) == len(prof.edges) + 1:
        xs = np.asarray(prof.edges, dtype=float)
        ys = np.cumsum(np.asarray(prof.bins[:-1], dtype=float)) / count
    else:
        return {"x": [], "y": []}
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], np.clip(ys[keep], 0.0, 1.0)
    if not xs.size:
        return {"x": [], "y": []}
    order = np.argsort(xs, kind="stable")
    xs, ys = xs[order], np.maximum.accumulate(ys[order])
    last = np.r_[xs[1:] != xs[:-1], True]  # the last (highest) count of each distinct x
    xs, ys = xs[last], ys[last]
    top = (prof.summary or {}).get("max")
    if ys[-1] < 1.0 and isinstance(top, (int, float)) and np.isfinite(top) and top > xs[-1]:
        xs, ys = np.r_[xs, float(top)], np.r_[ys, 1.0]  # values beyond the reference's last point
    # A step chart needs only the points where the CDF rises (plus the ends): an integer column's
    # thousands of cell boundaries collapse to one step per value.
    rise = np.r_[True, ys[1:] != ys[:-1]]
    rise[-1] = True
    xs, ys = xs[rise], ys[rise]
    if xs.size > limit:
        pick = np.unique(np.r_[np.linspace(0, xs.size - 1, limit).round().astype(int), xs.size - 1])
        xs, ys = xs[pick], ys[pick]
    return {"x": xs.tolist(), "y": ys.tolist()}


def _describe(bounds, window: Window) -> str:
    start, end = bounds
    if start is None and end is None:
        return window.describe()
    end_incl = (end - timedelta(days=1)).date().isoformat() if end else "…"
    return f"{start.date().isoformat() if start else '…'} to {end_incl}"


def _select(data: ModelData, features, targets: bool) -> list[tuple[str, str]]:
    if targets:
        out = []
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


def _importance(settings, model: str, importance) -> dict[str, float] | None:
    if importance:
        return dict(importance)
    cfg = settings.model(model).get("feature_importance")
    return {str(k): float(v) for k, v in dict(cfg).items()} if cfg else None


def champion_training_window(client, settings, model: str, timestamp: str | None) -> Window | None:
    """The champion's training window from its run's lineage tag ``driftgate.training_window``
    (``"YYYY-MM-DD..YYYY-MM-DD"``), used when no ``reference_window`` is configured."""
    try:
        mv = make_lifecycle(settings, client, model).champion()
        if mv is None or not mv.run_id:
            return None
        text = client.get_run(mv.run_id).data.tags.get("driftgate.training_window", "")
        start, _, end = str(text).partition("..")
        if not (start and end):
            return None
        return Window(timestamp=timestamp, start=parse_date(start), end=parse_date(end))
    except Exception:
        return None


def champion_importance(client, settings, model: str) -> dict[str, float] | None:
    """The champion's logged ``feature_importance.json`` (``{feature: weight}``), or None."""
    try:
        mv = make_lifecycle(settings, client, model).champion()
        if mv is None or not mv.run_id:
            return None
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(mv.run_id, "feature_importance.json", tmp)
            doc = json.loads(Path(path).read_text())
        return {str(k): float(v) for k, v in doc.items()} if isinstance(doc, dict) else None
    except Exception:
        return None


def drift_over_time(
    settings,
    model: str,
    *,
    unit: str | None = None,
    start: date | None = None,
    end: date | None = None,
    features: Sequence[str] | None = None,
    targets: bool = False,
    importance: dict[str, float] | None = None,
    progress=None,
    use_store: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Per-window drift against the reference profile: ``{"unit", "features": [names],
    "windows": [{"start", "end", "rows", "drift_share", "drifted_features", "drifted",
    "weighted_drift_share", "features": {name: {"test", "statistic", "threshold", "drifted"}}}]}``.
    Windows whose tests need p-values are BH-adjusted within the window. Closed days come from the
    stored per-window profiles (:mod:`services.drift.window_store`; only days not profiled yet, or
    whose watermark moved, and today's open day are scanned — ``"store"`` says which); without a
    usable store, one grouped pass over the source."""
    data = model_data(settings, model)
    if not data.timestamp:
        raise BadInput(f"model {model!r} has no timestamp column configured")
    unit = unit or str(settings.section("drift").get("window", "day"))
    feats = _select(data, features, targets)
    policy = Policy.from_settings(settings, importance=_importance(settings, model, importance))
    ref = reference_profile(settings, model, features=feats, data=data, progress=progress)
    win = Window(timestamp=data.timestamp, start=start, end=end)
    with open_backend(data.source, settings) as b:
        bounds = resolve_window(b, win)
        per, store = _stored_windows(settings, model, b, data, feats, ref, bounds, unit, use_store, now, progress)
        if per is None:
            per = profiles_by_window(
                b,
                feats,
                side="current",
                bounds=bounds,
                ts=data.timestamp,
                reference=ref,
                source=data.source.name,
                group_by=unit,
                progress=progress,
            )
    step = {"day": timedelta(days=1), "week": timedelta(days=7)}.get(unit)
    windows = []
    results = None
    if store is not None and store.used and unit == "day":
        from services.drift.window_store import ResultCache

        results = ResultCache(settings, model, store, policy, [n for n, _ in feats])
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
        rep = compare(ref, prof, policy, order=usable)
        wend = (wstart + step - timedelta(days=1)) if step else None
        windows.append(
            {
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
        )
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


def _stored_range(settings, model, backend, data: ModelData, feats, ref, bounds, label, now, progress):
    """A current window's profile combined from stored day profiles, with notes; ``(None, notes)``
    when the store cannot be used (the caller scans the window)."""
    from services.drift import window_store

    def profiler(run):
        return profiles_by_window(
            backend,
            feats,
            side="current",
            bounds=run,
            ts=data.timestamp,
            reference=ref,
            source=data.source.name,
            group_by="day",
            progress=progress,
        )

    days, info = window_store.window_profiles(
        settings, model, backend, data.source, feats, data.timestamp, ref, bounds, profiler, now=now, progress=progress
    )
    notes = [f"window store: {n}" for n in info.notes]
    if not days:
        return None, notes
    try:
        cur = window_store.combine([p for _, p in days], ref, label)
    except BadInput as exc:
        return None, notes + [f"window store: {exc}: full scan"]
    cur.source = data.source.name
    if len(days) > 1:
        bounds_txt = ", ".join(
            f"{n} ±{e:.3g}"
            for n, e in ((n, window_store.median_error(cur, n)) for n, k in feats if k == "numeric")
            if e is not None
        )
        notes.append(
            f"current window combined from {len(days)} day profiles ({info.to_dict()['reused']} stored, "
            f"{len(info.profiled)} scanned now); counts exact, the median interpolated within its cell"
            + (f" ({bounds_txt})" if bounds_txt else "")
        )
    return cur, notes


def _stored_windows(settings, model, backend, data: ModelData, feats, ref, bounds, unit, use_store, now, progress):
    """Per-window profiles from the window store (see :mod:`services.drift.window_store`), or
    ``(None, info)``: the caller then runs the full grouped pass."""
    if not use_store or unit not in ("day", "week"):
        return None, None
    from services.drift import window_store

    def profiler(run):
        return profiles_by_window(
            backend,
            feats,
            side="current",
            bounds=run,
            ts=data.timestamp,
            reference=ref,
            source=data.source.name,
            group_by="day",
            progress=progress,
        )

    days, info = window_store.window_profiles(
        settings, model, backend, data.source, feats, data.timestamp, ref, bounds, profiler, now=now, progress=progress
    )
    if days is None:
        return None, info
    try:
        return window_store.by_unit(days, unit, ref), info
    except BadInput as exc:  # e.g. grids without CDF counts (not mergeable into weeks)
        info.notes.append(f"{exc}: full re-scan")
        return None, info


def performance_over_time(
    settings, model: str, *, unit: str | None = None, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """ROC AUC (from score buckets of 0.001), accuracy at 0.5 and label rate per window, from
    the rows whose (delayed) label has arrived; plus the same on the reference window."""
    from services.drift.log_sql import performance_query

    data = model_data(settings, model)
    if not (data.timestamp and data.label and data.prediction):
        raise BadInput(f"model {model!r} needs timestamp, label and prediction columns configured")
    unit = unit or str(settings.section("drift").get("window", "day"))
    with open_backend(data.source, settings) as b:
        out = []
        for which, win in (
            ("windows", Window(timestamp=data.timestamp, start=start, end=end)),
            ("reference", data.reference),
        ):
            bounds = resolve_window(b, win)
            sql, params = performance_query(
                b.table,
                b.dialect,
                ts=data.timestamp,
                label=data.label,
                prediction=data.prediction,
                group_by=unit,
                start=bounds[0],
                end=bounds[1],
            )
            out.append((which, b.execute(sql, params)))
    grouped: dict[Any, list] = {}
    for w, bucket, pos, n, correct in out[0][1]:
        grouped.setdefault(as_date(w), []).append((bucket, float(pos or 0), int(n), int(correct or 0)))
    windows = [dict(start=w.isoformat(), **_perf(rows)) for w, rows in sorted(grouped.items())]
    ref_rows = [(b_, float(p or 0), int(n), int(c or 0)) for _, b_, p, n, c in out[1][1]]
    return {"model": model, "unit": unit, "reference": _perf(ref_rows) if ref_rows else None, "windows": windows}


def _perf(rows) -> dict[str, Any]:
    import numpy as np

    rows = sorted(rows, key=lambda r: r[0])
    pos = np.array([r[1] for r in rows])
    neg = np.array([r[2] - r[1] for r in rows])
    n = int(sum(r[2] for r in rows))
    correct = sum(r[3] for r in rows)
    P, N = pos.sum(), neg.sum()
    auc = None
    if P > 0 and N > 0:
        # Probability a random positive outranks a random negative; ties within a bucket count 1/2.
        neg_below = np.cumsum(neg) - neg
        auc = float(np.sum(pos * (neg_below + 0.5 * neg)) / (P * N))
    return {
        "labelled": n,
        "roc_auc": auc,
        "accuracy": correct / n if n else None,
        "label_rate": float(P / n) if n else None,
    }


def data_dates(settings, model: str) -> tuple[date | None, date | None]:
    """The first and the last day with rows in the model's scoring log (None, None when empty or
    without a timestamp): what a date picker defaults to and what an empty window names."""
    from sqlglot import exp

    from services.warehouse.sql import column, render

    data = model_data(settings, model)
    if not data.timestamp:
        return None, None
    with open_backend(data.source, settings) as b:
        ts = column(data.timestamp)
        sql = render(
            exp.select(exp.cast(exp.Min(this=ts), "DATE"), exp.cast(exp.Max(this=ts.copy()), "DATE")).from_(
                b.table.copy()
            ),
            b.dialect,
        )
        rows = b.execute(sql, {})
    if not rows or rows[0][0] is None:
        return None, None
    return as_date(rows[0][0]), as_date(rows[0][1])
