"""Retraining trigger policy (spec: "Retraining trigger contract").

The trigger is separate from promotion: it only says *whether retraining is due* and why.
It never trains or promotes anything (that is :mod:`services.retraining.retrain` and the gate).

How a decision is made, for one registered model ``M`` (config ``[models.M]``):

1. The scoring log (``source``) is cut into windows (daily by default, aligned to UTC midnight);
   the last ``lookback_windows`` complete windows up to ``as_of`` are evaluated.
2. Per window:
   * **dataset drift** of the model's ``features`` against the reference window
     (``reference_window``, or the current champion's training window after a promotion) —
     computed by the drift engine (:func:`services.drift.drift_over_time`), never here;
     the window breaches when ``drift_share >= drift_share_threshold``;
   * **performance** of ``prediction`` vs the delayed ``label`` (``roc_auc`` by default, or
     ``accuracy``) from :func:`services.drift.performance_over_time` (grouped aggregates pushed
     into DuckDB / the warehouse; nothing but per-window numbers leaves the query); the window
     breaches when ``reference - value >= performance_drop_threshold``, where the reference is the
     champion's performance in the reference window.
   A window without rows, or without enough labelled rows, is *no evidence* for that signal —
   never a breach.
3. Persistence: retraining is due when the most recent ``consecutive_windows`` windows all
   breached (an empty window — a gap in the log — breaks the streak: no retraining on missing
   evidence), or when the optional ``schedule_days`` have passed since the last retraining run.
4. Cool-down: never due within ``cooldown_days`` after the last retraining run = the newest parent
   run of the model's experiment tagged ``driftgate.trigger`` (started at or before ``as_of``).

Policy keys (``[trigger]``, overridable per model in ``[models.M.trigger]``) — see
:class:`TriggerPolicy`. The JSON document of :meth:`Decision.to_dict` is the spec's
``{"model", "retrain", "reasons", "windows": [...], "cooldown_until"}`` plus explanatory extras.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.config import Settings
from services.errors import BadInput, DriftGateError, NotFound
from services.numbers import finite_or_none
from services.registry.errors import translate
from services.registry.tags import champion_since

UTC = dt.UTC
TRIGGER_TAG = "driftgate.trigger"
ROLE_TAG = "driftgate.role"
PARENT_TAG = "mlflow.parentRunId"
# Windows are aligned to this instant: a Monday, 00:00 UTC (daily windows = UTC calendar days,
# weekly windows start on Mondays).
WINDOW_ORIGIN = dt.datetime(2000, 1, 3, tzinfo=UTC)
METRICS = ("roc_auc", "accuracy")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TriggerPolicy:
    """The ``[trigger]`` section. Defaults are the spec's.

    ``window``: "daily" (default) or "weekly" (UTC days / weeks from Monday, the drift engine's
    per-window grouping).
    ``schedule_days``: optional; retraining is also due when this many days passed since the last
    retraining run (or when there never was one).
    ``lookback_windows``: how many windows are evaluated (and shown on the timeline).
    ``min_rows`` / ``min_labels``: rows a window needs for a drift verdict / labelled rows (with
    both classes for roc_auc) for a performance verdict; below that the window is "no evidence".
    ``performance_metric``: "roc_auc" or "accuracy" (at a 0.5 cut-off). ``reference_performance``: optional fixed reference value instead of
    the champion's performance measured in the reference window.
    ``reference``: "champion" (default) compares against the current champion's training window
    (its run's ``driftgate.training_window`` tag, e.g. after a promotion) when it is known and
    differs from the configured ``reference_window`` — the performance reference is then the
    champion's logged metric; "config" always uses ``[models.<name>] reference_window``.
    ``estimated_performance``: windows without enough labels get the performance estimated from
    their scores (CBPE, :mod:`services.drift.estimation`) as advisory evidence; it counts towards a
    breach only when this is true (and never while the estimates are flagged unreliable).
    """

    drift_share_threshold: float = 0.5
    performance_drop_threshold: float = 0.05
    consecutive_windows: int = 3
    cooldown_days: float = 7.0
    window: str = "daily"
    schedule_days: float | None = None
    lookback_windows: int = 30
    min_rows: int = 30
    min_labels: int = 30
    performance_metric: str = "roc_auc"
    reference_performance: float | None = None
    reference: str = "champion"
    estimated_performance: bool = False

    @property
    def window_width(self) -> dt.timedelta:
        return parse_window(self.window)

    @property
    def window_label(self) -> str:
        w = self.window_width
        if w == dt.timedelta(days=1):
            return "daily"
        if w == dt.timedelta(days=7):
            return "weekly"
        return self.window

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], where: str = "[trigger]") -> TriggerPolicy:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in doc if k not in known)
        if unknown:
            raise BadInput(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        policy = cls(**{k: v for k, v in doc.items()})
        policy.validate(where)
        return policy

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> TriggerPolicy:
        doc = {k: v for k, v in settings.explicit("trigger").items() if not isinstance(v, Mapping)}
        if model is not None:
            doc.update(settings.section("models", model, "trigger"))
        return cls.from_mapping(doc, "[trigger]" if model is None else f"[trigger] / [models.{model}.trigger]")

    def validate(self, where: str = "[trigger]") -> None:
        def number(
            name: str,
            lo: float | None = None,
            hi: float | None = None,
            *,
            integer: bool = False,
            lo_open: bool = False,
            optional: bool = False,
        ) -> None:
            value = getattr(self, name)
            if value is None and optional:
                return
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (isinstance(value, float) and not math.isfinite(value))
            ):
                raise BadInput(f"{where} {name} must be a number, not {value!r}")
            if integer and int(value) != value:
                raise BadInput(f"{where} {name} must be a whole number, not {value!r}")
            if lo is not None and (value <= lo if lo_open else value < lo):
                raise BadInput(f"{where} {name} must be {'>' if lo_open else '>='} {lo}, not {value!r}")
            if hi is not None and value > hi:
                raise BadInput(f"{where} {name} must be <= {hi}, not {value!r}")

        number("drift_share_threshold", 0, 1, lo_open=True)
        number("performance_drop_threshold", 0, 1, lo_open=True)
        number("consecutive_windows", 1, integer=True)
        number("cooldown_days", 0)
        number("schedule_days", 0, lo_open=True, optional=True)
        number("lookback_windows", 1, 1000, integer=True)
        number("min_rows", 1, integer=True)
        number("min_labels", 2, integer=True)
        number("reference_performance", 0, 1, optional=True)
        if self.lookback_windows < self.consecutive_windows:
            raise BadInput(
                f"{where} lookback_windows ({self.lookback_windows}) must be >= consecutive_windows "
                f"({self.consecutive_windows})"
            )
        if self.reference not in ("champion", "config"):
            raise BadInput(f'{where} reference must be "champion" or "config", not {self.reference!r}')
        if not isinstance(self.estimated_performance, bool):
            raise BadInput(f"{where} estimated_performance must be true or false, not {self.estimated_performance!r}")
        if self.performance_metric not in METRICS:
            raise BadInput(
                f"{where} performance_metric must be one of {', '.join(METRICS)}, not {self.performance_metric!r}"
            )
        if not isinstance(self.window, str):
            raise BadInput(f'{where} window must be a string like "daily" or "7d", not {self.window!r}')
        parse_window(self.window, where)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_window(text: str, where: str = "[trigger]") -> dt.timedelta:
    named = {
        "daily": dt.timedelta(days=1),
        "day": dt.timedelta(days=1),
        "weekly": dt.timedelta(days=7),
        "week": dt.timedelta(days=7),
    }
    if text not in named:
        raise BadInput(f'{where} window must be "daily" or "weekly", not {text!r}')
    return named[text]


# --------------------------------------------------------------------------------------------
# Model / scoring-log configuration
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelLog:
    """Where a model's scoring log lives and which columns mean what (``[models.<name>]``)."""

    model: str
    experiment: str
    source: str
    source_config: Mapping[str, Any]
    timestamp: str
    label: str | None
    prediction: str | None
    features: tuple[str, ...]
    reference_start: dt.datetime | None
    reference_end: dt.datetime | None  # exclusive

    @classmethod
    def from_settings(cls, settings: Settings, model: str) -> ModelLog:
        if not model or not isinstance(model, str):
            raise BadInput("a model name is required (--model)")
        cfg = settings.model(model)
        where = f"[models.{model}]"
        if not cfg:
            known = ", ".join(sorted(settings.models)) or "none"
            raise NotFound(
                f"model {model!r} has no scoring log configured ({where} missing; configured models: {known})"
            )
        source = cfg.get("source")
        if not source:
            raise NotFound(f"model {model!r} has no scoring log: {where} source is not set")
        src_cfg = settings.section("sources", str(source))
        if not src_cfg:
            raise NotFound(f"{where} source {source!r} has no [sources.{source}] entry")
        timestamp = cfg.get("timestamp")
        if not timestamp:
            raise BadInput(f"{where} timestamp (the scoring log's time column) is not set")
        features = cfg.get("features") or []
        if not isinstance(features, (list, tuple)) or not all(isinstance(f, str) for f in features):
            raise BadInput(f"{where} features must be a list of column names")
        for col in [timestamp, cfg.get("label"), cfg.get("prediction"), *features]:
            if col is not None and not _IDENT.match(str(col)):
                raise BadInput(f"{where}: {col!r} is not a plain column name")
        ref = cfg.get("reference_window") or {}
        if ref and not isinstance(ref, Mapping):
            raise BadInput(f"{where} reference_window must be a table {{start=..., end=...}}")
        ref_start = _parse_instant(ref.get("start"), f"{where} reference_window.start") if ref.get("start") else None
        ref_end = _parse_instant(ref.get("end"), f"{where} reference_window.end", end=True) if ref.get("end") else None
        if ref_start and ref_end and ref_end <= ref_start:
            raise BadInput(f"{where} reference_window ends before it starts")
        return cls(
            model=model,
            experiment=str(cfg.get("experiment") or model),
            source=str(source),
            source_config=src_cfg,
            timestamp=str(timestamp),
            label=str(cfg["label"]) if cfg.get("label") else None,
            prediction=str(cfg["prediction"]) if cfg.get("prediction") else None,
            features=tuple(features),
            reference_start=ref_start,
            reference_end=ref_end,
        )


def _parse_instant(value: Any, what: str, *, end: bool = False) -> dt.datetime:
    """A config date/datetime as an aware UTC datetime. A bare date as an ``end`` is inclusive
    (the whole day), i.e. it becomes the next midnight."""
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        out = dt.datetime.combine(value, dt.time(), tzinfo=UTC)
        return out + dt.timedelta(days=1) if end else out
    elif isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                out = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=UTC)
                return out + dt.timedelta(days=1) if end else out
            out = dt.datetime.fromisoformat(text)
        except ValueError:
            raise BadInput(f"{what} is not an ISO date or date-time: {value!r}") from None
    else:
        raise BadInput(f"{what} is not an ISO date or date-time: {value!r}")
    return out.replace(tzinfo=UTC) if out.tzinfo is None else out.astimezone(UTC)


def parse_as_of(value: str | dt.date | dt.datetime | None) -> dt.datetime | None:
    """``--as-of``: a date means that day's midnight UTC (windows *before* that day count)."""
    if value is None or value == "":
        return None
    return _parse_instant(value, "as-of")


def _aware(t: Any) -> dt.datetime | None:
    if t is None:
        return None
    if isinstance(t, dt.datetime):
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    if isinstance(t, dt.date):
        return dt.datetime.combine(t, dt.time(), tzinfo=UTC)
    return None


# --------------------------------------------------------------------------------------------
# Evidence per window: the drift engine's public per-window functions
# --------------------------------------------------------------------------------------------
UNITS = {dt.timedelta(days=1): "day", dt.timedelta(days=7): "week"}


def check_scoring_log(settings: Settings, spec: ModelLog) -> dt.date | None:
    """Open the model's scoring log (via :mod:`services.warehouse.sources`), check the configured columns
    exist and return the date of its newest event (None for an empty log)."""
    from services.warehouse.sources import newest_date, open_backend, source_from_settings

    source = source_from_settings(settings, spec.source)
    try:
        with open_backend(source, settings) as backend:
            cols = backend.columns
            needed = [spec.timestamp, *spec.features] + [c for c in (spec.label, spec.prediction) if c]
            missing = [c for c in needed if c not in cols]
            if missing:
                raise BadInput(f"scoring log of model {spec.model!r} lacks column(s): {', '.join(missing)}")
            return newest_date(backend, spec.timestamp)
    except DriftGateError:
        raise
    except Exception as exc:
        raise BadInput(f"scoring log of model {spec.model!r} cannot be read ({type(exc).__name__})") from None


def window_evidence(
    settings: Settings, spec: ModelLog, start: dt.date, end: dt.date, unit: str, *, drift: bool, performance: bool
) -> tuple[dict, dict, dict | None, list[str]]:
    """Per-window rows + drift (:func:`services.drift.drift_over_time`) and per-window
    performance from delayed labels (:func:`services.drift.performance_over_time`), both computed
    by the drift engine from grouped aggregates (nothing but per-window numbers leaves the query).

    Returns ``(rows_by_start, drift_by_start, performance, notes)`` keyed by window start date;
    ``performance`` is the engine's document (with ``reference``) or None."""
    from services.drift import drift_over_time, performance_over_time
    from services.drift.log_sql import rows_query
    from services.warehouse.sources import open_backend, source_from_settings

    notes: list[str] = []
    rows: dict[dt.date, int] = {}
    source = source_from_settings(settings, spec.source)
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    with open_backend(source, settings) as backend:
        sql, params = rows_query(backend.table, backend.dialect, ts=spec.timestamp, group_by=unit, start=lo, end=hi)
        for w, n in backend.execute(sql, params):
            key = _as_date(w)
            if key is not None:
                rows[key] = rows.get(key, 0) + int(n)
    drifts: dict[dt.date, dict] = {}
    if drift and rows:
        try:
            doc = drift_over_time(settings, spec.model, unit=unit, start=start, end=end, features=list(spec.features))
            drifts = {_as_date(w["start"]): w for w in doc["windows"]}
        except BadInput as exc:  # e.g. an empty reference window: no drift evidence
            notes.append(f"drift not evaluated: {exc}")
    perf = None
    if performance:
        try:
            perf = performance_over_time(settings, spec.model, unit=unit, start=start, end=end)
        except BadInput as exc:
            notes.append(f"performance not evaluated: {exc}")
    return rows, drifts, perf, notes


def estimated_evidence(
    settings: Settings, model: str, unit: str, start: dt.date, end: dt.date
) -> tuple[dict | None, str | None]:
    """The CBPE document of :func:`services.drift.estimation.estimated_performance` for the evaluated
    windows, or None with a one-line note (estimation is advisory: it never fails the trigger)."""
    from services.drift.estimation import estimated_performance

    try:
        return estimated_performance(settings, model, unit=unit, start=start, end=end), None
    except BadInput as exc:
        return None, f"estimated performance not available: {exc}"


def _estimated(
    w: Window, est: dict | None, doc: dict | None, policy: TriggerPolicy, metric: str, ref_perf: float | None
) -> None:
    """Advisory estimate for a window without (enough) labels; counted when the policy says so."""
    if not est or doc is None:
        return
    value = finite_or_none(est.get("estimated_roc_auc" if metric == "roc_auc" else "estimated_accuracy"))
    if value is None:
        return
    w.estimated_performance = value
    w.estimated_band = list(est["band"]) if est.get("band") and metric == "roc_auc" else None
    counted = policy.estimated_performance and not doc.get("unreliable") and ref_perf is not None
    if counted:
        w.performance_estimated = True
        w.performance_drop = ref_perf - value
        w.performance_breach = w.performance_drop >= policy.performance_drop_threshold - 1e-12
        w.notes.append(
            f"estimated {metric} {value:.3f} from the scores (counted: [trigger] estimated_performance = true)"
        )
    elif policy.estimated_performance and doc.get("unreliable"):
        w.notes.append(f"estimated {metric} {value:.3f} (not counted: {doc.get('warning')})")
    else:
        w.notes.append(
            f"estimated {metric} {value:.3f} (advisory, not counted: [trigger] estimated_performance = false"
            + (f"; {doc.get('warning')})" if doc.get("unreliable") else ")")
        )


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Retraining history (cool-down)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetrainingRun:
    run_id: str
    run_name: str | None
    started: dt.datetime
    reason: str


def last_retraining_run(client, experiment: str, before: dt.datetime | None = None) -> RetrainingRun | None:
    """The newest parent run of ``experiment`` tagged ``driftgate.trigger`` started at or before
    ``before`` (None when the experiment or such a run does not exist)."""
    try:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return None
        flt = f"tags.`{TRIGGER_TAG}` LIKE '%'"
        if before is not None:
            flt += f" AND attributes.start_time <= {int(before.timestamp() * 1000)}"
        token = None
        while True:
            page = client.search_runs(
                [exp.experiment_id],
                filter_string=flt,
                max_results=200,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
            for run in page:
                if PARENT_TAG in run.data.tags:
                    continue
                return RetrainingRun(
                    run_id=run.info.run_id,
                    run_name=run.info.run_name,
                    started=dt.datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
                    reason=str(run.data.tags.get(TRIGGER_TAG, "")),
                )
            token = page.token
            if not token:
                return None
    except DriftGateError:
        raise
    except Exception as exc:
        raise translate(exc, "the retraining history", client) from None


@dataclass(frozen=True)
class ChampionReference:
    version: str
    start: dt.datetime
    end: dt.datetime  # exclusive
    metrics: Mapping[str, float]
    since: dt.datetime | None = None  # when it became champion (promotion / rollback)
    eval_window: str | None = None  # where its logged metrics were measured


def champion_reference(settings: Settings, client, model: str) -> ChampionReference | None:
    """The champion's training window (tag ``driftgate.training_window`` = ``YYYY-MM-DD..YYYY-MM-DD``
    on its source run) and logged metrics, or None when unknown."""
    try:
        from services.registry.lifecycle import champion_version

        version = champion_version(settings, client, model)
        if version is None:
            return None
        mv = client.get_model_version(model, version)
        run_id = mv.run_id
        if not run_id:
            return None
        run = client.get_run(run_id)
        since = _champion_since(getattr(mv, "tags", None) or {})
    except Exception:
        return None
    text = run.data.tags.get("driftgate.training_window", "")
    m = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*", text)
    if not m:
        return None
    try:
        start = _parse_instant(m.group(1), "training window")
        end = _parse_instant(m.group(2), "training window", end=True)
    except BadInput:
        return None
    if end <= start:
        return None
    return ChampionReference(
        str(version),
        start,
        end,
        dict(run.data.metrics),
        since=since,
        eval_window=run.data.tags.get("driftgate.eval_window") or None,
    )


def _champion_since(tags: Mapping[str, str]) -> dt.datetime | None:
    text = champion_since(tags)
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def hold_from_promotion(windows: Sequence[Window], champ: ChampionReference | None) -> str | None:
    """After a champion change, windows that ended before the new champion's promotion (their rows
    were scored by the previous champion) are no evidence against it: their breaches are cleared
    and noted. Returns the reason line, or None when no window predates the promotion."""
    if champ is None or champ.since is None:
        return None
    before = [w for w in windows if w.end <= champ.since]
    if not before:
        return None
    for w in before:
        if w.breach:
            w.notes.append(f"before champion v{champ.version}'s promotion: not held against it")
        w.drift_breach = w.performance_breach = False
    after = len(windows) - len(before)
    return (
        f"champion changed: v{champ.version} is champion since {champ.since.isoformat(timespec='minutes')}; "
        f"the {len(before)} window(s) before its promotion are not held against it"
        + (
            f", evidence starts with the {after} window(s) since"
            if after
            else ", no window since its promotion has completed yet"
        )
    )


def _with_reference(settings: Settings, model: str, start: dt.datetime, end: dt.datetime) -> Settings:
    """Settings whose ``[models.<model>] reference_window`` is [start, end) (end date inclusive)."""
    import copy

    raw = copy.deepcopy(dict(settings.raw))
    raw.setdefault("models", {}).setdefault(model, {})["reference_window"] = {
        "start": start.date().isoformat(),
        "end": (end - dt.timedelta(days=1)).date().isoformat(),
    }
    return dataclasses.replace(settings, raw=raw)


def state_token(settings: Settings, model: str, client) -> str:
    """A cheap fingerprint of what the decision depends on besides the clock: the newest
    retraining run and, for Delta scoring logs, the table version. Caches key on it so a new
    retraining run or an appended batch shows at once."""
    parts = []
    cfg = settings.model(model)
    try:
        exp = client.get_experiment_by_name(str(cfg.get("experiment") or model))
        if exp is not None:
            runs = client.search_runs(
                [exp.experiment_id],
                filter_string=f"tags.`{TRIGGER_TAG}` LIKE '%'",
                max_results=1,
                order_by=["attributes.start_time DESC"],
            )
            parts.append(runs[0].info.run_id if runs else "-")
    except Exception:
        parts.append("?")
    src = settings.section("sources", str(cfg.get("source") or ""))
    if str(src.get("type", "")).lower() == "delta" and src.get("path"):
        try:
            import deltalake

            parts.append(str(deltalake.DeltaTable(str(settings.resolve_path(str(src["path"])))).version()))
        except Exception:
            parts.append("?")
    return "/".join(parts)


# --------------------------------------------------------------------------------------------
# Decision
# --------------------------------------------------------------------------------------------
@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime
    rows: int = 0
    labelled_rows: int = 0
    drift_share: float | None = None
    drifted_features: list[str] = field(default_factory=list)
    performance: float | None = None
    performance_drop: float | None = None
    drift_breach: bool = False
    performance_breach: bool = False
    notes: list[str] = field(default_factory=list)
    estimated_performance: float | None = None
    estimated_band: list[float] | None = None
    performance_estimated: bool = False  # the breach verdict rests on the estimate

    @property
    def breach(self) -> bool:
        return self.drift_breach or self.performance_breach

    @property
    def has_data(self) -> bool:
        return self.rows > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "drift_share": self.drift_share,
            "drifted_features": list(self.drifted_features),
            "performance": self.performance,
            "breach": self.breach,
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            "performance_drop": self.performance_drop,
            "drift_breach": self.drift_breach,
            "performance_breach": self.performance_breach,
            "notes": list(self.notes),
            "estimated_performance": self.estimated_performance,
            "estimated_band": self.estimated_band,
            "performance_estimated": self.performance_estimated,
        }


@dataclass
class Decision:
    model: str
    retrain: bool
    reasons: list[str]
    windows: list[Window]
    cooldown_until: dt.datetime | None
    as_of: dt.datetime
    policy: TriggerPolicy
    metric: str
    reference_performance: float | None
    reference_window: tuple[dt.datetime | None, dt.datetime | None]
    streak: int
    drift_due: bool
    schedule_due: bool
    last_retraining: RetrainingRun | None
    reference_source: str = "config"

    def to_dict(self) -> dict[str, Any]:
        last = self.last_retraining
        return {
            "model": self.model,
            "retrain": self.retrain,
            "reasons": list(self.reasons),
            "windows": [w.to_dict() for w in self.windows],
            "cooldown_until": self.cooldown_until.isoformat() if self.cooldown_until else None,
            "as_of": self.as_of.isoformat(),
            "metric": self.metric,
            "reference_performance": self.reference_performance,
            "reference_window": {
                "start": self.reference_window[0].isoformat() if self.reference_window[0] else None,
                "end": self.reference_window[1].isoformat() if self.reference_window[1] else None,
                "source": self.reference_source,
            },
            "consecutive_breaches": self.streak,
            "drift_due": self.drift_due,
            "schedule_due": self.schedule_due,
            "last_retraining": None
            if last is None
            else {
                "run_id": last.run_id,
                "run_name": last.run_name,
                "started": last.started.isoformat(),
                "reason": last.reason,
            },
            "policy": self.policy.to_dict(),
        }

    def summary(self) -> str:
        """One line for the CLI's text format and the panel's headline."""
        head = "retraining due" if self.retrain else "no retraining"
        return f"{self.model}: {head} — {self.reasons[0] if self.reasons else ''}".rstrip(" —")


def _fmt_day(t: dt.datetime, width: dt.timedelta) -> str:
    if width >= dt.timedelta(days=1) and t.hour == 0 and t.minute == 0:
        return t.date().isoformat()
    return t.strftime("%Y-%m-%d %H:%M")


def _fmt_windows(ws: Sequence[Window], width: dt.timedelta) -> str:
    if not ws:
        return ""
    if len(ws) == 1:
        return _fmt_day(ws[0].start, width)
    return f"{_fmt_day(ws[0].start, width)} … {_fmt_day(ws[-1].start, width)}"


def evaluate(
    settings: Settings,
    model: str,
    *,
    as_of: dt.datetime | str | None = None,
    policy: TriggerPolicy | None = None,
    client=None,
) -> Decision:
    """Evaluate the trigger policy for ``model`` (spec: retraining trigger contract).

    ``as_of``: evaluate as if it were this instant (default: now, or — when the log already holds
    later events, as after ``demo advance`` — the end of the window of the latest event). Only
    complete windows ending at or before ``as_of`` and retraining runs started before it count.
    Raises BadInput/NotFound (exit 2) for bad configuration or a missing scoring log, Unavailable
    when MLflow cannot be reached.
    """
    spec = ModelLog.from_settings(settings, model)
    policy = policy or TriggerPolicy.from_settings(settings, model)
    policy.validate()
    width = policy.window_width
    as_of_dt = parse_as_of(as_of) if not isinstance(as_of, dt.datetime) else _aware(as_of)
    metric = policy.performance_metric

    unit = UNITS[width]
    newest = check_scoring_log(settings, spec)
    if as_of_dt is None:
        now = dt.datetime.now(UTC)
        as_of_dt = now
        if newest is not None and newest >= now.date():  # a log ahead of the clock (demo advance)
            as_of_dt = _window_end(dt.datetime.combine(newest, dt.time(), tzinfo=UTC), width)
    end = _window_floor(as_of_dt, width)
    start = end - policy.lookback_windows * width
    windows = [Window(start + i * width, start + (i + 1) * width) for i in range(policy.lookback_windows)]
    reasons_pre: list[str] = []

    if client is None:
        from services.registry.mlflow_client import make_client

        client = make_client(settings)
    ref_source = "config"
    champion_perf: float | None = None
    champ = None
    if policy.reference == "champion":
        champ = champion_reference(settings, client, model)
        if champ is not None and (champ.start, champ.end) != (spec.reference_start, spec.reference_end):
            settings = _with_reference(settings, model, champ.start, champ.end)
            spec = dataclasses.replace(spec, reference_start=champ.start, reference_end=champ.end)
            champion_perf = finite_or_none(champ.metrics.get(metric))
            ref_source = f"champion v{champ.version}"
            reasons_pre.append(
                f"reference: champion v{champ.version}'s training window "
                f"{champ.start.date().isoformat()}..{(champ.end - dt.timedelta(days=1)).date().isoformat()}"
                + (f" and its logged {metric} {champion_perf:.3f}" if champion_perf is not None else "")
                + (f" (measured on {champ.eval_window})" if champion_perf is not None and champ.eval_window else "")
            )

    can_drift = True
    if spec.reference_start is None or spec.reference_end is None:
        reasons_pre.append(f"no reference window configured ([models.{model}] reference_window): drift not evaluated")
        can_drift = False
    elif not spec.features:
        reasons_pre.append(f"no features configured ([models.{model}] features): drift not evaluated")
        can_drift = False
    has_labels = bool(spec.label and spec.prediction)
    if not has_labels:
        reasons_pre.append(f"no label/prediction columns configured ([models.{model}]): {metric} not evaluated")

    rows, drifts, perf_doc, notes = window_evidence(
        settings, spec, start.date(), (end - dt.timedelta(days=1)).date(), unit, drift=can_drift, performance=has_labels
    )
    reasons_pre.extend(notes)

    # performance reference: the champion's performance in the reference window (or configured)
    ref_perf = policy.reference_performance if policy.reference_performance is not None else champion_perf
    if ref_perf is None and perf_doc is not None:
        ref = perf_doc.get("reference") or {}
        if (ref.get("labelled") or 0) >= policy.min_labels:
            ref_perf = finite_or_none(ref.get(metric))
        if ref_perf is None:
            reasons_pre.append(
                f"no labelled reference performance ({metric}) in the reference window: performance drop not evaluated"
            )
    perf_by = {_as_date(w["start"]): w for w in (perf_doc or {}).get("windows", [])}
    est_by, est_doc = {}, None
    if has_labels:
        est_doc, est_note = estimated_evidence(settings, model, unit, start.date(), (end - dt.timedelta(days=1)).date())
        if est_note:
            reasons_pre.append(est_note)
        est_by = {_as_date(w["start"]): w for w in (est_doc or {}).get("windows", [])}

    for w in windows:
        key = w.start.date()
        w.rows = rows.get(key, 0)
        if w.rows == 0:
            w.notes.append("no data (gap in the scoring log)")
            continue
        # drift
        if can_drift:
            d = drifts.get(key)
            if w.rows < policy.min_rows:
                w.notes.append(f"only {w.rows} rows (no drift evidence)")
            elif d is None or d.get("drift_share") is None:
                w.notes.append("drift not evaluated for this window")
            else:
                w.drift_share = finite_or_none(d["drift_share"])
                w.drifted_features = list(d.get("drifted_features") or [])
                w.drift_breach = w.drift_share is not None and w.drift_share >= policy.drift_share_threshold - 1e-12
        # performance from delayed labels
        if has_labels:
            p = perf_by.get(key) or {}
            w.labelled_rows = int(p.get("labelled") or 0)
            value = finite_or_none(p.get(metric))
            if w.labelled_rows < policy.min_labels or value is None:
                w.notes.append(
                    "no labels yet (no performance evidence)"
                    if w.labelled_rows == 0
                    else f"only {w.labelled_rows} labelled rows (no performance evidence)"
                )
                _estimated(w, est_by.get(key), est_doc, policy, metric, ref_perf)
            else:
                w.performance = value
                if ref_perf is not None:
                    w.performance_drop = ref_perf - value
                    w.performance_breach = w.performance_drop >= policy.performance_drop_threshold - 1e-12
    last = newest
    held = hold_from_promotion(windows, champ)
    if held:
        reasons_pre.insert(0, held)

    # Retraining history (cool-down and schedule)
    last_run = last_retraining_run(client, spec.experiment, before=as_of_dt)

    return decide(
        model,
        windows,
        policy,
        as_of=as_of_dt,
        last_run=last_run,
        metric=metric,
        reference_performance=ref_perf,
        reference_window=(spec.reference_start, spec.reference_end),
        last_event=last,
        notes=reasons_pre,
        reference_source=ref_source,
    )


def decide(
    model: str,
    windows: list[Window],
    policy: TriggerPolicy,
    *,
    as_of: dt.datetime,
    last_run: RetrainingRun | None,
    metric: str | None = None,
    reference_performance: float | None = None,
    reference_window: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
    last_event: dt.date | None = None,
    notes: Sequence[str] = (),
    reference_source: str = "config",
) -> Decision:
    """The policy itself, on evaluated windows (oldest first; breaches already marked):
    persistence over the trailing windows, the optional schedule, the cool-down, and the reasons."""
    as_of_dt, last, reasons_pre = as_of, last_event, list(notes)
    metric = metric or policy.performance_metric
    ref_perf = reference_performance
    width = policy.window_width
    # Persistence: trailing run of breached windows
    streak = 0
    for w in reversed(windows):
        if not w.breach:
            break
        streak += 1
    drift_due = streak >= policy.consecutive_windows
    schedule_due = False
    if policy.schedule_days is not None:
        schedule_due = last_run is None or as_of_dt - last_run.started >= dt.timedelta(days=policy.schedule_days)
    cooldown_until = None
    if last_run is not None:
        until = last_run.started + dt.timedelta(days=policy.cooldown_days)
        if until > as_of_dt:
            cooldown_until = until

    reasons: list[str] = []
    label = policy.window_label
    streak_ws = windows[len(windows) - streak :] if streak else []
    if drift_due:
        at_least = "at least " if streak == len(windows) else ""
        reasons.append(
            f"breach persisted for {at_least}{streak} consecutive {label} windows "
            f"({_fmt_windows(streak_ws, width)}), >= {policy.consecutive_windows} required"
        )
        d_ws = [w for w in streak_ws if w.drift_breach]
        if d_ws:
            feats: dict[str, int] = {}
            for w in d_ws:
                for f in w.drifted_features:
                    feats[f] = feats.get(f, 0) + 1
            top = ", ".join(f for f, _ in sorted(feats.items(), key=lambda kv: (-kv[1], kv[0])))
            shares = [w.drift_share for w in d_ws if w.drift_share is not None]
            reasons.append(
                f"dataset drift in {len(d_ws)} of them: drift share {min(shares):.2f}–{max(shares):.2f} "
                f">= {policy.drift_share_threshold:g} (drifted: {top})"
            )
        p_ws = [w for w in streak_ws if w.performance_breach]
        if p_ws:
            drops = [w.performance_drop for w in p_ws if w.performance_drop is not None]
            n_est = sum(w.performance_estimated for w in p_ws)
            reasons.append(
                f"{metric} dropped in {len(p_ws)} of them by {min(drops):.3f}–{max(drops):.3f} vs the reference "
                f"{ref_perf:.3f} (threshold {policy.performance_drop_threshold:g})"
                + (f"; {n_est} of them estimated from the scores (no labels yet)" if n_est else "")
            )
    if schedule_due:
        reasons.append(
            f"scheduled retraining every {policy.schedule_days:g} days: "
            + (
                "no retraining run yet"
                if last_run is None
                else f"last one started {last_run.started.date().isoformat()}"
            )
        )
    due = drift_due or schedule_due
    if cooldown_until is not None and last_run is not None:
        reasons.append(
            f"cool-down: retraining run {last_run.run_name or last_run.run_id} started "
            f"{last_run.started.date().isoformat()}, no retraining before {cooldown_until.isoformat(timespec='minutes')} "
            f"({policy.cooldown_days:g} days)"
        )
    elif last_run is not None and due:
        reasons.append(
            f"the {policy.cooldown_days:g}-day cool-down after retraining run {last_run.run_name or last_run.run_id} "
            f"(started {last_run.started.date().isoformat()}) has passed"
        )
    if not due:
        last_w = windows[-1]
        if not last_w.has_data:
            gap = sum(1 for _ in _takewhile_rev(windows, lambda w: not w.has_data))
            reasons.append(
                f"no evidence: the last {gap} {label} window(s) have no data "
                f"(the scoring log {'ends ' + last.isoformat() if last else 'is empty'})"
            )
        elif streak:
            reasons.append(
                f"breach in the last {streak} {label} window(s) only, {policy.consecutive_windows} consecutive required"
            )
        else:
            reasons.append(f"no breach in the latest {label} window ({_fmt_day(last_w.start, width)})")
        n_breach = sum(w.breach for w in windows)
        if n_breach and not streak:
            reasons.append(
                f"{n_breach} of the {len(windows)} evaluated windows breached, but not persistently up to now"
            )
    reasons.extend(reasons_pre)
    retrain = due and cooldown_until is None
    if due and not retrain:
        reasons.insert(0, "retraining would be due but the cool-down is active")

    return Decision(
        model=model,
        retrain=retrain,
        reasons=reasons,
        windows=windows,
        cooldown_until=cooldown_until,
        as_of=as_of_dt,
        policy=policy,
        metric=metric,
        reference_performance=ref_perf,
        reference_window=reference_window,
        streak=streak,
        drift_due=drift_due,
        schedule_due=schedule_due,
        last_retraining=last_run,
        reference_source=reference_source,
    )


def _takewhile_rev(items: Sequence[Window], pred: Callable[[Window], bool]) -> Iterable[Window]:
    for item in reversed(items):
        if not pred(item):
            return
        yield item


def _window_floor(t: dt.datetime, width: dt.timedelta) -> dt.datetime:
    return WINDOW_ORIGIN + ((t - WINDOW_ORIGIN) // width) * width


def _window_end(t: dt.datetime, width: dt.timedelta) -> dt.datetime:
    return _window_floor(t, width) + width
