"""Candidate leaderboards: child runs of a retraining run ranked by an explicit selection rule.

Rule (spec, "MLflow conventions read by the app"):
- rows are the child runs of the parent run (default: the experiment's most recent run that has
  children; an experiment without parent runs: all its runs);
- higher is better unless ``greater_is_better=False``; ranks are 1-based, best first;
- runs lacking the metric (or with NaN/inf) come last with ``rank``/``value`` null — never dropped;
- the champion baseline (a child tagged ``driftgate.role=champion``) has ``is_champion`` true and
  ``rank`` null; ``delta_vs_champion = value - champion value``. Without such a child the
  leaderboard is flagged as *not like-for-like* (``like_for_like`` False).

Row order: ranked candidates (best first), then the champion baseline, then runs without a value.

Uncertainty: when runs logged ``eval/predictions.parquet`` (``row_id``, ``y_true``, ``y_score``), the
delta vs the champion gets a paired bootstrap confidence interval on the rows both evaluated
(:func:`bootstrap_delta`). Otherwise only the plain delta is given.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from services.errors import BadInput, NotFound
from services.registry.runs import (
    DEFAULT_PAGE_SIZE,
    DEFAULT_RUN_LIMIT,
    CallCounter,
    ExperimentRow,
    RunRow,
    get_run,
    group_retraining,
    resolve_experiment,
    search_runs_paged,
)
from services.registry.tags import MODEL_VERSION as MODEL_VERSION_TAG

PREDICTIONS_ARTIFACT = "eval/predictions.parquet"
#: Metric names that are "lower is better" by default (guards, deltas colouring).
LOWER_IS_BETTER_HINTS = ("loss", "brier", "error", "rmse", "mse", "mae", "mape", "latency", "time", "logloss")


def lower_is_better_default(metric: str) -> bool:
    m = metric.lower()
    return any(h in m for h in LOWER_IS_BETTER_HINTS)


@dataclass(frozen=True)
class LeaderboardRow:
    run: RunRow
    rank: int | None
    value: float | None
    is_champion: bool
    delta_vs_champion: float | None
    ci_low: float | None = None  # bootstrap interval of delta_vs_champion
    ci_high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run.run_id,
            "run_name": self.run.run_name,
            "rank": self.rank,
            "value": self.value,
            "is_champion": self.is_champion,
            "delta_vs_champion": self.delta_vs_champion,
            "metrics": dict(self.run.metrics),
            "params": dict(self.run.params),
        }


@dataclass(frozen=True)
class Leaderboard:
    experiment: ExperimentRow
    parent: RunRow | None
    metric: str
    greater_is_better: bool
    rows: tuple[LeaderboardRow, ...]
    like_for_like: bool
    parents: tuple[RunRow, ...] = ()  # every retraining run of the experiment (for pickers)
    calls: int = 0
    truncated: bool = False
    guard_metrics: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def champion(self) -> LeaderboardRow | None:
        return next((r for r in self.rows if r.is_champion), None)

    @property
    def winner(self) -> LeaderboardRow | None:
        return next((r for r in self.rows if r.rank == 1), None)

    @property
    def candidates(self) -> tuple[LeaderboardRow, ...]:
        return tuple(r for r in self.rows if not r.is_champion)

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "parent_run": self.parent.run_id if self.parent else None,
            "experiment": self.experiment.name,
            "greater_is_better": self.greater_is_better,
            "like_for_like": self.like_for_like,
            "rows": [r.to_json() for r in self.rows],
        }

    def table(self) -> list[dict[str, Any]]:
        """Flat rows for the page's table: rank, name, value, delta (+CI), guards, role."""
        champ = self.champion
        out = []
        for r in self.rows:
            row: dict[str, Any] = {
                "rank": r.rank,
                "run_name": r.run.run_name,
                "role": "champion baseline" if r.is_champion else ("winner" if r.rank == 1 else "candidate"),
                self.metric: r.value,
                "delta_vs_champion": r.delta_vs_champion,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "model_version": r.run.tags.get(MODEL_VERSION_TAG) or "",
                "status": r.run.status,
                "run_id": r.run.run_id,
            }
            for g in self.guard_metrics:
                v = r.run.metric(g)
                row[g] = v
                c = champ.run.metric(g) if champ else None
                if v is not None and c is not None and not r.is_champion:
                    worse = v > c if lower_is_better_default(g) else v < c
                    row[f"{g} worse"] = bool(worse)
                else:
                    row[f"{g} worse"] = None
            out.append(row)
        return out


# --------------------------------------------------------------------------------------------
# Ranking (pure)
# --------------------------------------------------------------------------------------------
def rank_rows(runs: Sequence[RunRow], metric: str, greater_is_better: bool = True) -> tuple[LeaderboardRow, ...]:
    """Rank ``runs`` by ``metric`` per the spec's rule (see module doc). Pure function."""
    champs = [r for r in runs if r.is_champion_baseline]
    # Several runs tagged champion: the most recent one is the baseline, others are candidates.
    champ = max(champs, key=lambda r: (r.start_time is not None, r.start_time)) if champs else None
    champ_value = champ.metric(metric) if champ else None

    def delta(v: float | None) -> float | None:
        return None if v is None or champ_value is None else v - champ_value

    scored: list[tuple[float, RunRow]] = []
    missing: list[tuple[None, RunRow]] = []
    for r in runs:
        if r is champ:
            continue
        v = r.metric(metric)
        if v is None:
            missing.append((None, r))
        else:
            scored.append((v, r))
    sign = -1.0 if greater_is_better else 1.0
    far = 1e300
    scored.sort(
        key=lambda vr: (sign * vr[0], vr[1].start_time.timestamp() if vr[1].start_time else far, vr[1].run_name)
    )
    missing.sort(key=lambda vr: (vr[1].start_time.timestamp() if vr[1].start_time else far, vr[1].run_name))
    rows = [LeaderboardRow(r, i + 1, v, False, delta(v)) for i, (v, r) in enumerate(scored)]
    if champ is not None and champ_value is not None:
        rows.append(LeaderboardRow(champ, None, champ_value, True, 0.0))
    rows += [LeaderboardRow(r, None, None, False, None) for _, r in missing]
    if champ is not None and champ_value is None:
        rows.append(LeaderboardRow(champ, None, None, True, None))
    return tuple(rows)


# --------------------------------------------------------------------------------------------
# Reading from MLflow
# --------------------------------------------------------------------------------------------
def build_leaderboard(
    client: Any,
    experiment: str,
    metric: str,
    parent_run: str | None = None,
    greater_is_better: bool = True,
    filter_string: str = "",
    guard_metrics: Sequence[str] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = DEFAULT_RUN_LIMIT,
) -> Leaderboard:
    """The leaderboard of ``experiment`` (see module doc for the rule).

    Calls: 1 (experiment) + ceil(runs / page_size) searches; + 1 when ``parent_run`` is given
    (``get_run``) — the children then come from one filtered search.
    Raises NotFound for an unknown experiment/run or a metric no row logged.
    """
    metric = str(metric or "").strip()
    if not metric:
        raise BadInput("no metric given")
    exp = resolve_experiment(client, experiment)
    counter = CallCounter()
    calls = 1
    notes: list[str] = []
    parents_list: tuple[RunRow, ...] = ()
    parent: RunRow | None = None
    if parent_run:
        parent = get_run(client, parent_run)
        calls += 1
        if parent.experiment_id != exp.experiment_id:
            raise NotFound(f"run '{parent_run}' is not in experiment '{exp.name}'")
        flt = _and(f"tags.`mlflow.parentRunId` = '{_q(parent.run_id)}'", filter_string)
        rows_runs, truncated = search_runs_paged(
            client, [exp.experiment_id], flt, page_size=page_size, limit=limit, counter=counter
        )
        if not rows_runs:
            raise NotFound(f"run '{parent_run}' has no child runs" + (" matching the filter" if filter_string else ""))
    else:
        runs, truncated = search_runs_paged(
            client, [exp.experiment_id], filter_string, page_size=page_size, limit=limit, counter=counter
        )
        parents, standalone = group_retraining(runs)
        parents_list = tuple(p.run for p in parents)
        if parents:
            parent = parents[0].run
            rows_runs = list(parents[0].children)
        else:
            rows_runs = list(runs)
            if not runs:
                raise NotFound(
                    f"experiment '{exp.name}' has no runs" + (" matching the filter" if filter_string else "")
                )
            notes.append("no retraining (parent) runs: every run of the experiment is ranked")
    calls += counter.calls
    if truncated:
        notes.append(f"only the first {len(rows_runs)} runs were read")

    known = {k for r in rows_runs for k in r.metrics}
    if metric not in known:
        hint = ", ".join(sorted(known)[:8]) or "none"
        raise NotFound(f"metric '{metric}' is not logged by any run (available: {hint})")

    rows = rank_rows(rows_runs, metric, greater_is_better)
    like = any(r.is_champion for r in rows)
    if not like:
        notes.append(
            "no champion baseline evaluated on the candidates' data (no child tagged driftgate.role=champion): not like-for-like"
        )
    if guard_metrics is None:
        guard_metrics = [m for m in sorted(known) if m != metric][:6]
    guards = tuple(g for g in guard_metrics if g in known and g != metric)
    return Leaderboard(
        exp, parent, metric, bool(greater_is_better), rows, like, parents_list, calls, truncated, guards, tuple(notes)
    )


def _q(value: str) -> str:
    return str(value).replace("\\", "").replace("'", "")


def _and(a: str, b: str) -> str:
    return f"{a} and {b}" if a and b else (a or b)


# --------------------------------------------------------------------------------------------
# Paired bootstrap of the delta vs the champion
# --------------------------------------------------------------------------------------------
def _auc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC AUC per row of (B, n) arrays via the Mann-Whitney statistic (ties: average ranks)."""
    ranks = rankdata(s, axis=1)
    pos = y == 1
    n1 = pos.sum(axis=1).astype(float)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * pos).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    auc[(n1 == 0) | (n0 == 0)] = np.nan
    return np.asarray(auc, dtype=float)


def _vec_metric(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    eps = 1e-15
    if name in ("roc_auc", "auc", "val_roc_auc"):
        return _auc_rows
    if name == "accuracy":
        return lambda y, s: ((s >= 0.5).astype(int) == y).mean(axis=1)
    if name in ("brier", "brier_score"):
        return lambda y, s: ((s - y) ** 2).mean(axis=1)
    if name in ("log_loss", "logloss"):
        return lambda y, s: (
            -(y * np.log(np.clip(s, eps, 1 - eps)) + (1 - y) * np.log(np.clip(1 - s, eps, 1 - eps))).mean(axis=1)
        )
    return None


def sklearn_metric(name: str) -> Callable[[np.ndarray, np.ndarray], float] | None:
    """The scikit-learn definition of a metric on (y_true, y_score) (hard labels at 0.5 when needed)."""
    from sklearn import metrics as skm  # lazy: scikit-learn costs ~1 s at start of every page and CLI call

    def hard(f: Callable[[Any, Any], Any]) -> Callable[[np.ndarray, np.ndarray], float]:
        return lambda y, s: float(f(y, (np.asarray(s) >= 0.5).astype(int)))

    table: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "roc_auc": lambda y, s: float(skm.roc_auc_score(y, s)),
        "auc": lambda y, s: float(skm.roc_auc_score(y, s)),
        "average_precision": lambda y, s: float(skm.average_precision_score(y, s)),
        "pr_auc": lambda y, s: float(skm.average_precision_score(y, s)),
        "brier": lambda y, s: float(skm.brier_score_loss(y, s)),
        "brier_score": lambda y, s: float(skm.brier_score_loss(y, s)),
        "log_loss": lambda y, s: float(skm.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "accuracy": hard(skm.accuracy_score),
        "f1": hard(lambda y, p: skm.f1_score(y, p, zero_division=0)),
        "precision": hard(lambda y, p: skm.precision_score(y, p, zero_division=0)),
        "recall": hard(lambda y, p: skm.recall_score(y, p, zero_division=0)),
    }
    return table.get(name)


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """The (n_boot, n) resampling index matrix used by :func:`bootstrap_delta` for ``seed``."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


@dataclass(frozen=True)
class DeltaInterval:
    metric: str
    delta: float  # on all paired rows
    low: float
    high: float
    level: float
    n_rows: int
    n_boot: int
    p_better: float  # share of resamples where the candidate beats the champion


def bootstrap_delta(
    cand: Any,
    champ: Any,
    metric: str,
    greater_is_better: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> DeltaInterval | None:
    """Paired bootstrap CI of ``metric(candidate) - metric(champion)`` on the rows both evaluated.

    ``cand``/``champ`` are DataFrames with ``row_id``, ``y_true``, ``y_score``. Rows are joined on
    ``row_id``; the same resampled rows are used for both models. None when the metric has no
    known definition or fewer than 10 rows are shared.
    """
    vec = _vec_metric(metric)
    direct = sklearn_metric(metric)
    if direct is None:
        return None
    m = pd.merge(
        cand[["row_id", "y_true", "y_score"]],
        champ[["row_id", "y_true", "y_score"]],
        on="row_id",
        suffixes=("_c", "_b"),
    ).dropna()
    m = m.sort_values("row_id", kind="stable")
    if len(m) < 10:
        return None
    y = m["y_true_c"].to_numpy().astype(int)
    sc, sb = m["y_score_c"].to_numpy(float), m["y_score_b"].to_numpy(float)
    point = direct(y, sc) - direct(y, sb)
    idx = bootstrap_indices(len(m), n_boot, seed)
    yy = y[idx]
    if vec is not None:
        deltas = vec(yy, sc[idx]) - vec(yy, sb[idx])
    else:
        deltas = np.array([_safe(direct, yy[i], sc[idx[i]]) - _safe(direct, yy[i], sb[idx[i]]) for i in range(n_boot)])
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0:
        return None
    alpha = (1 - level) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    better = (deltas > 0) if greater_is_better else (deltas < 0)
    return DeltaInterval(
        metric, float(point), float(low), float(high), level, len(m), int(deltas.size), float(better.mean())
    )


def _safe(fn: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, s: np.ndarray) -> float:
    try:
        return fn(y, s)
    except ValueError:
        return float("nan")


def load_predictions(client: Any, run_id: str, dst: str | Path | None = None) -> Any | None:
    """The run's ``eval/predictions.parquet`` as a DataFrame, or None when it was not logged."""
    with contextlib.ExitStack() as stack:  # a download of our own is deleted once it is read
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dg-pred-")) if dst is None else str(dst)
        try:
            local = client.download_artifacts(run_id, PREDICTIONS_ARTIFACT, tmp)
            df = pd.read_parquet(local)
        except Exception:
            return None
    need = {"row_id", "y_true", "y_score"}
    return df if need.issubset(df.columns) else None


def with_intervals(
    client: Any,
    board: Leaderboard,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    max_rows: int = 25,
) -> Leaderboard:
    """The same leaderboard with bootstrap intervals on the deltas of the top ``max_rows`` candidates.

    One artifact download per run involved (champion + top candidates); runs without
    ``eval/predictions.parquet`` keep their plain delta.
    """
    champ = board.champion
    if champ is None or champ.value is None or sklearn_metric(board.metric) is None:
        return board
    base = load_predictions(client, champ.run.run_id)
    if base is None:
        return replace(
            board, notes=board.notes + ("the champion baseline logged no eval/predictions.parquet: plain deltas only",)
        )
    rows = []
    done = 0
    for r in board.rows:
        if r.is_champion or r.value is None or done >= max_rows:
            rows.append(r)
            continue
        done += 1
        pred = load_predictions(client, r.run.run_id)
        iv = (
            bootstrap_delta(pred, base, board.metric, board.greater_is_better, n_boot, seed, level)
            if pred is not None
            else None
        )
        rows.append(replace(r, ci_low=iv.low, ci_high=iv.high) if iv else r)
    return replace(board, rows=tuple(rows))
