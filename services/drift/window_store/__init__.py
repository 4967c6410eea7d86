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

from services.drift.window_store.job import profile_model
from services.drift.window_store.merging import by_unit, combine, median_error
from services.drift.window_store.store import (
    DEFAULT_FILE,
    STORE_FORMAT,
    StoreUnavailable,
    WindowStore,
    pack,
    policy_fingerprint,
    reference_fingerprint,
    store_path,
    unpack,
)
from services.drift.window_store.windows import ResultCache, StoreInfo, window_profiles

__all__ = [
    "DEFAULT_FILE",
    "STORE_FORMAT",
    "ResultCache",
    "StoreInfo",
    "StoreUnavailable",
    "WindowStore",
    "by_unit",
    "combine",
    "median_error",
    "pack",
    "policy_fingerprint",
    "profile_model",
    "reference_fingerprint",
    "store_path",
    "unpack",
    "window_profiles",
]
