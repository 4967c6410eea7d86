"""Stored per-window profiles: incremental drift monitoring of a model's scoring log.

Each *closed* UTC day of a model's scoring log is profiled once against the model's reference
profile — counts at the reference's CDF points (its cells' boundaries) and bin edges, the tails
beyond its range, the category counts, count / mean / population std / min / max — and stored as
one row (``store``): in a DuckDB file (``$DRIFTGATE_HOME/window_profiles.duckdb`` by default;
``[drift] window_store`` names another file, ``false`` turns the store off), or, for a source that
lives in the warehouse (``type = "spark"``), in a table ``driftgate_window_profiles`` beside the
source table (``spark_store``). Rows are keyed by model, reference fingerprint, profiling-policy
fingerprint and day.

What is read and what is scanned (``windows.window_profiles``):

* a *watermark* per day — its row count and ``max(event_time)`` — from the Parquet footers when
  every row group lies within one day (no data read), else from a grouped query over the
  timestamp column only (``profiling.watermarks``); a stored day whose watermark differs — a
  late-arriving row, a new file for an old day — is re-profiled, as is every day not stored yet;
  a rewritten file with the same row count and newest time is not noticed (``--backfill``);
* today's day (the open window, UTC) and later days are always profiled fresh, never stored;
* the days to profile are scanned in ONE grouped pass per run of consecutive such days (on DuckDB
  ``profiling.day_profiles``: GROUP BY day x cell x edge flag per numeric column, day x category;
  reading only the files the footers name for those days); elsewhere the engine's grouped pass;
* a changed reference profile invalidates the days stored against the old one; a changed
  profiling policy (features, kinds, timestamp column, source) has another key;
* an unwritable, locked or corrupted store, or a stored row whose checksum fails, is reported in
  one line and the caller falls back to a full re-scan (or that day is re-profiled): nothing stale
  is ever shown as current.

Exact and approximate (against the full re-scan): every count (bins, CDF points, tails,
categories, rows, missing) is identical, so PSI, Jensen–Shannon, chi², KS and Wasserstein are the
same numbers up to float rounding, for a day and for weeks / custom ranges combined from days
(``merging.combine``); mean and std combine exactly (Chan et al.), min and max exactly. The one
approximate figure is the ``median`` summary, of a day (from its cells) and of a combined range:
interpolated inside the CDF cell that holds it, so off by at most that cell's width
(``merging.median_error``; with the engine's 2,048 cells per reference range, about 1/2,048 of the
reference's central range); the full re-scan computes it exactly.

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
