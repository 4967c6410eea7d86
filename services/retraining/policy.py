"""The retraining trigger policy itself: pure functions of evaluated windows, no I/O.

:func:`decide` turns windows whose breaches are marked (:func:`mark_windows`, from the evidence
that :mod:`services.retraining.evidence` reads) and the last retraining run into a
:class:`Decision`: persistence over the trailing windows, the optional schedule, the cool-down,
and the reasons. The JSON document of :meth:`Decision.to_dict` is the spec's ``{"model",
"retrain", "reasons", "windows": [...], "cooldown_until"}`` plus explanatory extras.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.config import Settings, parse_instant
from services.errors import BadInput
from services.numbers import finite_or_none

UTC = dt.UTC
# Windows are aligned to this instant: a Monday, 00:00 UTC (daily windows = UTC calendar days,
# weekly windows start on Mondays).
WINDOW_ORIGIN = dt.datetime(2000, 1, 3, tzinfo=UTC)
METRICS = ("roc_auc", "accuracy")
UNITS = {dt.timedelta(days=1): "day", dt.timedelta(days=7): "week"}
_NAMED_WINDOWS = {
    "daily": dt.timedelta(days=1),
    "day": dt.timedelta(days=1),
    "weekly": dt.timedelta(days=7),
    "week": dt.timedelta(days=7),
}


def parse_window(text: str, where: str = "[trigger]") -> dt.timedelta:
    if text not in _NAMED_WINDOWS:
        raise BadInput(f'{where} window must be "daily" or "weekly", not {text!r}')
    return _NAMED_WINDOWS[text]


def parse_as_of(value: str | dt.date | dt.datetime | None) -> dt.datetime | None:
    """``--as-of``: a date means that day's midnight UTC (windows *before* that day count)."""
    if value is None or value == "":
        return None
    return parse_instant(value, "as-of")


def window_floor(t: dt.datetime, width: dt.timedelta) -> dt.datetime:
    return WINDOW_ORIGIN + ((t - WINDOW_ORIGIN) // width) * width


def window_end(t: dt.datetime, width: dt.timedelta) -> dt.datetime:
    return window_floor(t, width) + width


def empty_windows(end: dt.datetime, policy: TriggerPolicy) -> list[TriggerWindow]:
    """The ``lookback_windows`` windows ending at ``end`` (a window boundary), oldest first."""
    width = policy.window_width
    start = end - policy.lookback_windows * width
    return [TriggerWindow(start + i * width, start + (i + 1) * width) for i in range(policy.lookback_windows)]


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
        policy = cls(**dict(doc))
        policy.validate(where)
        return policy

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> TriggerPolicy:
        """``[trigger]``, with the keys ``[models.<model>.trigger]`` sets over it."""
        section = settings.sections.trigger
        spec = settings.model_spec(model) if model is not None else None
        if spec is not None and spec.trigger is not None:
            over = spec.trigger
            section = section.model_copy(update={k: getattr(over, k) for k in over.model_fields_set})
        return cls.from_mapping(
            section.model_dump(), "[trigger]" if model is None else f"[trigger] / [models.{model}.trigger]"
        )

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


@dataclass
class TriggerWindow:
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
    counted: bool = True  # False: before the champion's promotion, no evidence against it

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
            "counted": self.counted,
        }


@dataclass
class Decision:
    model: str
    retrain: bool
    reasons: list[str]
    windows: list[TriggerWindow]
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


def _fmt_windows(ws: Sequence[TriggerWindow], width: dt.timedelta) -> str:
    if not ws:
        return ""
    if len(ws) == 1:
        return _fmt_day(ws[0].start, width)
    return f"{_fmt_day(ws[0].start, width)} … {_fmt_day(ws[-1].start, width)}"


def decide(
    model: str,
    windows: list[TriggerWindow],
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
    metric = metric or policy.performance_metric
    streak = 0  # persistence: the trailing run of breached windows
    for w in reversed(windows):
        if not w.breach:
            break
        streak += 1
    drift_due = streak >= policy.consecutive_windows
    schedule_due = False
    if policy.schedule_days is not None:
        schedule_due = last_run is None or as_of - last_run.started >= dt.timedelta(days=policy.schedule_days)
    cooldown_until = None
    if last_run is not None:
        until = last_run.started + dt.timedelta(days=policy.cooldown_days)
        if until > as_of:
            cooldown_until = until

    due = drift_due or schedule_due
    reasons = _breach_reasons(windows, streak, policy, metric, reference_performance) if drift_due else []
    if schedule_due:
        reasons.append(
            f"scheduled retraining every {policy.schedule_days:g} days: "
            + (
                "no retraining run yet"
                if last_run is None
                else f"last one started {last_run.started.date().isoformat()}"
            )
        )
    if last_run is not None and (cooldown_until is not None or due):
        reasons.append(_cooldown_reason(last_run, cooldown_until, policy))
    if not due:
        reasons.extend(_not_due_reasons(windows, streak, policy, last_event))
    reasons.extend(notes)
    retrain = due and cooldown_until is None
    if due and not retrain:
        reasons.insert(0, "retraining would be due but the cool-down is active")

    return Decision(
        model=model,
        retrain=retrain,
        reasons=reasons,
        windows=windows,
        cooldown_until=cooldown_until,
        as_of=as_of,
        policy=policy,
        metric=metric,
        reference_performance=reference_performance,
        reference_window=reference_window,
        streak=streak,
        drift_due=drift_due,
        schedule_due=schedule_due,
        last_retraining=last_run,
        reference_source=reference_source,
    )


def _span(values: Sequence[float], fmt: str) -> str:
    """``0.50–0.67``, or ``0.50`` when every window had the same value (not "0.50–0.50")."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}–{hi}"


def _breach_reasons(
    windows: Sequence[TriggerWindow], streak: int, policy: TriggerPolicy, metric: str, ref_perf: float | None
) -> list[str]:
    """Why the persisting breach is one: the streak, its drift and its performance drop."""
    streak_ws = list(windows[len(windows) - streak :])
    at_least = "at least " if streak == len(windows) else ""
    reasons = [
        f"breach persisted for {at_least}{streak} consecutive {policy.window_label} windows "
        f"({_fmt_windows(streak_ws, policy.window_width)}), >= {policy.consecutive_windows} required"
    ]
    d_ws = [w for w in streak_ws if w.drift_breach]
    if d_ws:
        feats: dict[str, int] = {}
        for w in d_ws:
            for f in w.drifted_features:
                feats[f] = feats.get(f, 0) + 1
        top = ", ".join(f for f, _ in sorted(feats.items(), key=lambda kv: (-kv[1], kv[0])))
        shares = [w.drift_share for w in d_ws if w.drift_share is not None]
        reasons.append(
            f"dataset drift in {len(d_ws)} of them: drift share {_span(shares, '.2f')} "
            f">= {policy.drift_share_threshold:g} (drifted: {top})"
        )
    p_ws = [w for w in streak_ws if w.performance_breach]
    if p_ws:
        drops = [w.performance_drop for w in p_ws if w.performance_drop is not None]
        n_est = sum(w.performance_estimated for w in p_ws)
        reasons.append(
            f"{metric} dropped in {len(p_ws)} of them by {_span(drops, '.3f')} vs the reference "
            f"{ref_perf:.3f} (threshold {policy.performance_drop_threshold:g})"
            + (f"; {n_est} of them estimated from the scores (no labels yet)" if n_est else "")
        )
    return reasons


def _cooldown_reason(last_run: RetrainingRun, until: dt.datetime | None, policy: TriggerPolicy) -> str:
    name, started = last_run.run_name or last_run.run_id, last_run.started.date().isoformat()
    if until is not None:
        return (
            f"cool-down: retraining run {name} started {started}, no retraining before "
            f"{until.isoformat(timespec='minutes')} ({policy.cooldown_days:g} days)"
        )
    return f"the {policy.cooldown_days:g}-day cool-down after retraining run {name} (started {started}) has passed"


def _not_due_reasons(
    windows: Sequence[TriggerWindow], streak: int, policy: TriggerPolicy, last_event: dt.date | None
) -> list[str]:
    """Why retraining is not due: no data lately, a breach too short, or no breach."""
    label, last_w = policy.window_label, windows[-1]
    if not last_w.has_data:
        gap = sum(1 for _ in _takewhile_rev(windows, lambda w: not w.has_data))
        reasons = [
            f"no evidence: the last {gap} {label} window(s) have no data "
            f"(the scoring log {'ends ' + last_event.isoformat() if last_event else 'is empty'})"
        ]
    elif streak:
        reasons = [
            f"breach in the last {streak} {label} window(s) only, {policy.consecutive_windows} consecutive required"
        ]
    else:
        reasons = [f"no breach in the latest {label} window ({_fmt_day(last_w.start, policy.window_width)})"]
    n_breach = sum(w.breach for w in windows)
    if n_breach and not streak:
        reasons.append(f"{n_breach} of the {len(windows)} evaluated windows breached, but not persistently up to now")
    return reasons


def _takewhile_rev(items: Sequence[TriggerWindow], pred: Callable[[TriggerWindow], bool]) -> Iterable[TriggerWindow]:
    for item in reversed(items):
        if not pred(item):
            return
        yield item


def mark_estimated(
    w: TriggerWindow,
    est: Mapping[str, Any] | None,
    doc: Mapping[str, Any] | None,
    policy: TriggerPolicy,
    metric: str,
    ref_perf: float | None,
) -> None:
    """Advisory estimate for a window without (enough) labels; counted when the policy says so."""
    if not est or doc is None:
        return
    value = finite_or_none(est.get("estimated_roc_auc" if metric == "roc_auc" else "estimated_accuracy"))
    if value is None:
        return
    w.estimated_performance = value
    w.estimated_band = list(est["band"]) if est.get("band") and metric == "roc_auc" else None
    if policy.estimated_performance and not doc.get("unreliable") and ref_perf is not None:
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


def hold_from_promotion(windows: Sequence[TriggerWindow], champ: ChampionReference | None) -> str | None:
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
        w.counted = False
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


@dataclass(frozen=True)
class ChampionReference:
    version: str
    start: dt.datetime
    end: dt.datetime  # exclusive
    metrics: Mapping[str, float]
    since: dt.datetime | None = None  # when it became champion (promotion / rollback)
    eval_window: str | None = None  # where its logged metrics were measured


@dataclass(frozen=True)
class RetrainingRun:
    run_id: str
    run_name: str | None
    started: dt.datetime
    reason: str


@dataclass(frozen=True)
class Evidence:
    """What the scoring log says per window (keyed by the window's start date): rows, the drift
    engine's per-window drift, performance from delayed labels and the advisory estimates."""

    rows: Mapping[dt.date, int]
    drift: Mapping[dt.date, Mapping[str, Any]] | None  # None: drift not evaluated
    performance: Mapping[dt.date, Mapping[str, Any]] | None  # None: no label/prediction columns
    estimates: Mapping[dt.date, Mapping[str, Any]] = field(default_factory=dict)
    estimate_doc: Mapping[str, Any] | None = None


def mark_windows(
    windows: Sequence[TriggerWindow],
    evidence: Evidence,
    policy: TriggerPolicy,
    metric: str,
    ref_perf: float | None,
) -> None:
    """Fill each window's rows and signals from ``evidence`` and mark its breaches. A window
    without rows, or without enough (labelled) rows, is no evidence for that signal."""
    for w in windows:
        key = w.start.date()
        w.rows = evidence.rows.get(key, 0)
        if w.rows == 0:
            w.notes.append("no data (gap in the scoring log)")
            continue
        if evidence.drift is not None:
            _mark_drift(w, evidence.drift.get(key), policy)
        if evidence.performance is not None:
            p = evidence.performance.get(key) or {}
            w.labelled_rows = int(p.get("labelled") or 0)
            value = finite_or_none(p.get(metric))
            if w.labelled_rows < policy.min_labels or value is None:
                w.notes.append(
                    "no labels yet (no performance evidence)"
                    if w.labelled_rows == 0
                    else f"only {w.labelled_rows} labelled rows (no performance evidence)"
                )
                mark_estimated(w, evidence.estimates.get(key), evidence.estimate_doc, policy, metric, ref_perf)
            else:
                w.performance = value
                if ref_perf is not None:
                    w.performance_drop = ref_perf - value
                    w.performance_breach = w.performance_drop >= policy.performance_drop_threshold - 1e-12


def _mark_drift(w: TriggerWindow, d: Mapping[str, Any] | None, policy: TriggerPolicy) -> None:
    if w.rows < policy.min_rows:
        w.notes.append(f"only {w.rows} rows (no drift evidence)")
    elif d is None or d.get("drift_share") is None:
        w.notes.append("drift not evaluated for this window")
    else:
        w.drift_share = finite_or_none(d["drift_share"])
        w.drifted_features = list(d.get("drifted_features") or [])
        w.drift_breach = w.drift_share is not None and w.drift_share >= policy.drift_share_threshold - 1e-12
