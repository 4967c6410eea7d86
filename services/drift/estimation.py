"""Estimated performance before the labels arrive (confidence-based performance estimation, CBPE).

Labels arrive late; a binary classifier's predicted probabilities arrive with every row. On the
reference window, where labels are known, the scores are calibrated (isotonic regression,
``sklearn.isotonic``, monotone so the ranking — and thus the ROC curve — is the model's own); in
any later window each row then counts as an expected ``p`` positive and ``1 − p`` negative, so
the expected ROC AUC (and accuracy at 0.5) follows from the window's scores alone. The band is
the 2.5–97.5 % range of the realised AUC when labels are drawn from the calibrated probabilities
(a seeded parametric bootstrap): the sampling noise of a window of that size.

**Assumption: no concept drift** (P(label | score) as in the reference). Covariate shift — the
scores moving — is what it sees; a changed relation between score and label is not. That is
checked where it can be: on the labelled windows the realised AUC is compared with the estimate,
and when it leaves the band widened by ``tolerance`` in ``consecutive`` windows in a row the result
says "estimates unreliable: concept drift on the labelled windows".

Everything works on score buckets (``floor(score · 1000)``) — counted in the engine by
:func:`services.drift.log_sql.score_buckets_query` for a model's scoring log, or with numpy for
in-memory columns — so nothing but per-bucket counts leaves DuckDB or the warehouse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from services.drift.log_sql import log_query, score_buckets_query
from services.drift.model import model_data
from services.errors import BadInput
from services.warehouse.sources import Window, as_date, open_backend

if TYPE_CHECKING:
    from services.config import Settings

BUCKETS = 1000
BAND_DRAWS = 400
MIN_ROWS = 30  # rows a window needs for an estimate
MIN_REFERENCE_LABELS = 100  # labelled reference rows (both classes) to calibrate on
TOLERANCE = 0.03  # realised outside the band widened by this: divergence
CONSECUTIVE = 3  # diverging labelled windows in a row: estimates unreliable
ASSUMPTION = (
    "Estimated from the predicted probabilities, calibrated on the reference window's labels; "
    "it assumes no concept drift (the relation between score and label unchanged)."
)
UNRELIABLE = "estimates unreliable: concept drift on the labelled windows"


@dataclass
class Buckets:
    """Score-bucket counts of one window: bucket index (0…BUCKETS), rows, labelled rows, positives."""

    index: np.ndarray
    rows: np.ndarray
    labelled: np.ndarray
    pos: np.ndarray
    missing: int = 0  # rows without a prediction

    @property
    def total(self) -> int:
        return int(self.rows.sum()) + self.missing


def buckets_from_rows(rows: Sequence[tuple[Any, ...]], where: str) -> dict[Any, Buckets]:
    """Group ``(w, b, n, labelled, pos, bad)`` rows (the SQL builder's output) per window ``w``;
    bad input (probabilities outside [0, 1], labels other than 0/1) is one clear line."""
    grouped: dict[Any, list[tuple[Any, int, int, int]]] = {}
    bad_labels = 0
    for w, b, n, labelled, pos, bad in rows:
        grouped.setdefault(w, []).append((b, int(n or 0), int(labelled or 0), int(pos or 0)))
        bad_labels += int(bad or 0)
    if bad_labels:
        raise BadInput(f"{where}: estimation needs a binary label (0/1); {bad_labels} labelled rows hold another value")
    out = {}
    for w, items in grouped.items():
        missing = sum(n for b, n, _, _ in items if b is None or (isinstance(b, float) and math.isnan(b)))
        kept = [
            (int(b), n, lab, pos)
            for b, n, lab, pos in items
            if b is not None and not (isinstance(b, float) and math.isnan(b))
        ]
        outside = [b for b, *_ in kept if b < 0 or b > BUCKETS]
        if outside:
            raise BadInput(
                f"{where}: predictions must be probabilities in [0, 1] for estimation "
                f"(found values {'below 0' if min(outside) < 0 else 'above 1'})"
            )
        kept.sort()
        arr = np.asarray(kept, dtype=float).reshape(-1, 4)
        out[w] = Buckets(arr[:, 0].astype(int), arr[:, 1], arr[:, 2], arr[:, 3], missing)
    return out


def buckets_from_arrays(scores: ArrayLike, labels: ArrayLike | None = None, where: str = "data") -> Buckets:
    """The same counts from in-memory columns (``labels`` may hold missing values)."""
    s = np.asarray(scores, dtype=float)
    finite = np.isfinite(s)
    y = np.full(s.size, np.nan)
    if labels is not None:
        lab = np.asarray(labels, dtype=object)
        present = np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) for v in lab], dtype=bool)
        try:
            y[present] = np.asarray(lab[present], dtype=float)
        except (TypeError, ValueError):
            raise BadInput(f"{where}: estimation needs a binary label (0/1); the label column is not numeric") from None
        if np.any(present & ~np.isin(y, (0.0, 1.0))):
            raise BadInput(
                f"{where}: estimation needs a binary label (0/1); found {len(np.unique(y[present]))} distinct values"
            )
    idx = np.floor(s[finite] * BUCKETS).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() > BUCKETS):
        raise BadInput(
            f"{where}: predictions must be probabilities in [0, 1] for estimation "
            f"(found values {'below 0' if idx.min() < 0 else 'above 1'})"
        )
    yk = y[finite]
    known = ~np.isnan(yk)
    index, inverse = np.unique(idx, return_inverse=True)
    rows = np.bincount(inverse, minlength=index.size).astype(float)
    labelled = np.bincount(inverse, weights=known.astype(float), minlength=index.size)
    pos = np.bincount(inverse, weights=(known & (yk == 1.0)).astype(float), minlength=index.size)
    return Buckets(index.astype(int), rows, labelled, pos, int((~finite).sum()))


# -- calibration and expectation -------------------------------------------------------------------
@dataclass
class Calibrator:
    """Isotonic map score bucket → P(label = 1), fitted on the reference window's labelled rows."""

    model: Any
    reference_auc: float | None
    labelled: int

    def __call__(self, index: np.ndarray) -> np.ndarray:
        if index.size == 0:
            return np.zeros(0)
        return np.asarray(np.clip(self.model.predict(_midpoints(index)), 0.0, 1.0), dtype=float)


def _midpoints(index: np.ndarray) -> np.ndarray:
    return (np.asarray(index, dtype=float) + 0.5) / BUCKETS


def calibrate(reference: Buckets, where: str = "reference window") -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    keep = reference.labelled > 0
    lab, pos = reference.labelled[keep], reference.pos[keep]
    n = int(lab.sum())
    if n < MIN_REFERENCE_LABELS or pos.sum() == 0 or pos.sum() == n:
        raise BadInput(
            f"{where}: estimation needs at least {MIN_REFERENCE_LABELS} labelled rows of both classes "
            f"to calibrate on (found {n}, {int(pos.sum())} positive)"
        )
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(_midpoints(reference.index[keep]), pos / lab, sample_weight=lab)
    return Calibrator(iso, binned_auc(pos, lab - pos), n)


def binned_auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """ROC AUC from per-bucket positives/negatives (ascending buckets; ties within a bucket ½)."""
    pos, neg = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    P, N = pos.sum(), neg.sum()
    if P <= 0 or N <= 0:
        return None
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (P * N))


def estimate_window(cal: Calibrator, window: Buckets, *, draws: int = BAND_DRAWS, seed: int = 0) -> dict[str, Any]:
    """Expected ROC AUC and accuracy (cut-off 0.5) of one window from its scores, with the band."""
    scored = int(window.rows.sum())
    out: dict[str, Any] = {
        "rows": window.total,
        "scored": scored,
        "missing_predictions": window.missing,
        "estimated_roc_auc": None,
        "band": None,
        "estimated_accuracy": None,
        "note": None,
    }
    if scored == 0:
        out["note"] = "no predictions in this window (all missing): nothing to estimate"
        return out
    if scored < MIN_ROWS:
        out["note"] = f"only {scored} scored rows: at least {MIN_ROWS} needed to estimate"
        return out
    p = cal(window.index)
    n = window.rows
    exp_pos, exp_neg = n * p, n * (1.0 - p)
    out["estimated_roc_auc"] = binned_auc(exp_pos, exp_neg)
    above = _midpoints(window.index) >= 0.5
    out["estimated_accuracy"] = float((np.sum(exp_pos[above]) + np.sum(exp_neg[~above])) / scored)
    rng = np.random.default_rng(seed)
    sim_pos = rng.binomial(n.astype(np.int64)[None, :], p[None, :], size=(draws, n.size)).astype(float)
    sim_neg = n[None, :] - sim_pos
    P, N = sim_pos.sum(axis=1), sim_neg.sum(axis=1)
    below = np.cumsum(sim_neg, axis=1) - sim_neg
    ok = (P > 0) & (N > 0)
    if ok.any():
        aucs = np.sum(sim_pos * (below + 0.5 * sim_neg), axis=1)[ok] / (P[ok] * N[ok])
        lo, hi = np.quantile(aucs, [0.025, 0.975])
        out["band"] = [float(lo), float(hi)]
    if out["estimated_roc_auc"] is None:
        out["note"] = "the calibrated scores expect a single class: ROC AUC undefined"
    return out


def realised(window: Buckets) -> dict[str, Any]:
    lab = window.labelled
    return {"labelled": int(lab.sum()), "roc_auc": binned_auc(window.pos, lab - window.pos) if lab.sum() else None}


def estimate(
    reference: Buckets,
    windows: Sequence[tuple[str, Buckets]],
    *,
    tolerance: float = TOLERANCE,
    consecutive: int = CONSECUTIVE,
    min_labels: int = MIN_ROWS,
) -> dict[str, Any]:
    """Per window: the estimate (+ band) and, where labels arrived, the realised AUC and whether they
    diverge; the document says whether the estimates are unreliable (concept drift)."""
    cal = calibrate(reference)
    out, run, worst_run, diverged = [], 0, 0, []
    for i, (start, w) in enumerate(windows):
        doc = {"start": start, **estimate_window(cal, w, seed=i)}
        real = realised(w)
        doc["labelled"] = real["labelled"]
        doc["realised_roc_auc"] = real["roc_auc"] if real["labelled"] >= min_labels else None
        doc["diverged"] = None
        if doc["realised_roc_auc"] is not None and doc["band"] is not None:
            lo, hi = doc["band"]
            doc["diverged"] = bool(doc["realised_roc_auc"] < lo - tolerance or doc["realised_roc_auc"] > hi + tolerance)
            run = run + 1 if doc["diverged"] else 0
            worst_run = max(worst_run, run)
            if doc["diverged"]:
                diverged.append(start)
        out.append(doc)
    unreliable = worst_run >= consecutive
    return {
        "method": "CBPE (isotonic calibration on the reference window)",
        "assumption": ASSUMPTION,
        "reference": {"labelled": cal.labelled, "roc_auc": cal.reference_auc},
        "tolerance": tolerance,
        "consecutive": consecutive,
        "windows": out,
        "diverged_windows": diverged,
        "unreliable": bool(unreliable),
        "warning": UNRELIABLE if unreliable else None,
    }


# -- a model's scoring log -----------------------------------------------------------------------
def estimated_performance(
    settings: Settings, model: str, *, unit: str | None = None, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Estimated ROC AUC per window of the model's scoring log (labelled or not) against the
    reference window's calibration; one engine pass for the windows, one for the reference."""

    data = model_data(settings, model)
    if not (data.timestamp and data.label and data.prediction):
        raise BadInput(
            f"model {model!r} needs timestamp, label and prediction columns configured to estimate performance"
        )
    unit = unit or str(settings.section("drift").get("window", "day"))
    columns = {"ts": data.timestamp, "label": data.label, "prediction": data.prediction}
    windows = ((unit, Window(timestamp=data.timestamp, start=start, end=end)), (None, data.reference))
    with open_backend(data.source, settings) as b:
        results = [
            b.execute(*log_query(score_buckets_query, b, win, group_by=group, **columns)) for group, win in windows
        ]
    where = f"model {model!r}"
    per = buckets_from_rows(results[0], where)
    ref = buckets_from_rows(results[1], f"{where}, reference window").get(0)
    if ref is None:
        raise BadInput(f"{where}: the reference window has no rows to calibrate on")
    doc = estimate(ref, sorted((_window_name(w), bk) for w, bk in per.items()))
    doc.update(model=model, unit=unit)
    return doc


def _window_name(w: Any) -> str:
    day = as_date(w)
    return day.isoformat() if day else str(w)


def estimate_frames(reference: Any, current: Any, *, prediction: str, label: str) -> dict[str, Any]:
    """The estimate for one current table (pandas) against a labelled reference table."""
    for side, frame in (("reference", reference), ("current", current)):
        for col in (prediction,) + ((label,) if side == "reference" else ()):
            if col not in frame.columns:
                raise BadInput(f"column {col!r} is missing from the {side} data")
        if len(frame) == 0:
            raise BadInput(f"the {side} window is empty (0 rows)")
    if len(current) < 2:
        raise BadInput(f"the current window has {len(current)} row: at least {MIN_ROWS} needed to estimate")
    for side, frame in (("reference", reference), ("current", current)):
        try:
            scores = np.asarray(frame[prediction], dtype=float)
        except (TypeError, ValueError):
            raise BadInput(f"{side}: predictions in {prediction!r} are not numbers (probabilities expected)") from None
        if not np.isfinite(scores).any():
            raise BadInput(f"{side}: every prediction in {prediction!r} is missing: nothing to estimate")
    ref = buckets_from_arrays(np.asarray(reference[prediction], dtype=float), reference[label].to_numpy(), "reference")
    labels = current[label].to_numpy() if label in current.columns else None
    cur = buckets_from_arrays(np.asarray(current[prediction], dtype=float), labels, "current")
    doc = estimate(ref, [("current", cur)])
    win = doc["windows"][0]
    if win["estimated_roc_auc"] is None and win["note"]:
        raise BadInput(f"the current window: {win['note']}")
    return doc
