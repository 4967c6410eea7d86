"""``python -m services.cli demo advance --days N``: move the demo scenario forward.

Appends N daily batches to the demo scoring log (never a day after today: the demo's days are
real calendar days, the seeded history ends yesterday), continuing the scenario with the demo's own
generator (:func:`services.demo.data.scoring_batch`: the drifted regime of days 70+ goes on), scored
by the *current* champion (so after a promotion the new champion's scores and version show up).
Labels keep arriving ``LABEL_DELAY_DAYS`` late: the new last days have no label yet, and the days
whose labels were still pending get them now (merged into the Delta table by ``request_id``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import deltalake
import pandas as pd
import pyarrow as pa
from filelock import FileLock

from services.config import Settings
from services.config.demo_workspace import (
    BATCH_DATE,
    ID_COLUMN,
    LABEL,
    MODEL_NAME,
    day_date,
    read_manifest,
    scoring_log_path,
)
from services.demo.data import LABEL_DELAY_DAYS, ROWS_PER_DAY, SEED, generate_day, scoring_arrow_table, scoring_batch
from services.errors import BadInput, Unavailable
from services.registry.lifecycle import champion_version
from services.registry.mlflow_client import make_client
from services.retraining.retrain import load_version_model
from services.warehouse.sources import Source, newest_date, open_backend

MAX_DAYS = 365


def _last_day(settings: Settings, path: Path, start: dt.date) -> int:
    with open_backend(Source(type="delta", path=str(path)), settings) as backend:
        last = newest_date(backend, BATCH_DATE)
    if last is None:
        raise BadInput("the demo scoring log is empty: reset the demo (python -m services.cli demo --reset)")
    return (last - start).days


def advance(settings: Settings, days: int) -> dict[str, Any]:
    """Append ``days`` daily batches to the demo scoring log; returns a summary document
    (``summary`` is the one line the CLI prints)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadInput(f"days must be a whole number between 1 and {MAX_DAYS}, not {days!r}")
    if not settings.demo:
        raise BadInput("demo advance only works on the embedded demo workspace (no MLFLOW_TRACKING_URI)")
    home = Path(settings.home)
    manifest = read_manifest(home)
    if manifest is None:
        raise BadInput("the demo workspace is not seeded yet: run python -m services.cli demo")
    start = dt.date.fromisoformat(manifest["start_date"])
    path = scoring_log_path(settings)

    client = make_client(settings)
    try:
        version = champion_version(settings, client, MODEL_NAME)
    except Exception as exc:
        raise Unavailable(f"the demo registry cannot be read ({type(exc).__name__})") from None
    if version is None:
        raise BadInput(f"{MODEL_NAME} has no champion: nothing can score the new batches")
    model = load_version_model(settings, client, MODEL_NAME, version)

    with FileLock(str(home / ".advance.lock"), timeout=600):
        first_old = _last_day(settings, path, start)
        first = first_old + 1
        last = first_old + days
        today = (dt.datetime.now(dt.UTC).date() - start).days
        if last > today:
            ends = day_date(start, first_old)
            room = max(today - first_old, 0)
            raise BadInput(
                f"the demo log ends {ends}: {days} more day(s) would reach {day_date(start, last)}, after today "
                f"({day_date(start, today)}); demo advance writes no future days"
                + (f" (at most {room} now)" if room else " (none now: try again tomorrow, or demo --reset)")
            )
        batches = [scoring_batch(start, d, model, str(version)) for d in range(first, last + 1)]
        frame = pd.concat(batches, ignore_index=True)
        labelled_until = day_date(start, last - LABEL_DELAY_DAYS)
        frame.loc[frame[BATCH_DATE] > labelled_until, LABEL] = pd.NA

        # Labels that arrive now: days that were pending before and are old enough now.
        pending_from = max(0, first_old - LABEL_DELAY_DAYS + 1)
        arriving = range(pending_from, min(first_old, last - LABEL_DELAY_DAYS) + 1)
        deltalake.write_deltalake(str(path), scoring_arrow_table(frame), mode="append")
        n_arrived = 0
        if len(arriving):
            ids, labels = [], []
            for d in arriving:
                day = day_date(start, d)
                truth = generate_day(d, ROWS_PER_DAY, SEED)
                ids += [f"{day:%Y%m%d}-{i:05d}" for i in range(len(truth))]
                labels += truth[LABEL].astype(int).tolist()
            source = pa.table({ID_COLUMN: pa.array(ids, pa.string()), LABEL: pa.array(labels, pa.int64())})
            metrics = (
                deltalake.DeltaTable(str(path))
                .merge(
                    source=source,
                    predicate=f"t.{ID_COLUMN} = s.{ID_COLUMN}",
                    source_alias="s",
                    target_alias="t",
                )
                .when_matched_update(updates={LABEL: f"s.{LABEL}"})
                .execute()
            )
            n_arrived = int(metrics.get("num_target_rows_updated", len(ids)))

    first_date, last_date = day_date(start, first), day_date(start, last)
    return {
        "days": days,
        "first_day": first,
        "last_day": last,
        "first_date": first_date.isoformat(),
        "last_date": last_date.isoformat(),
        "rows_appended": int(len(frame)),
        "labels_arrived": n_arrived,
        "labelled_until": labelled_until.isoformat(),
        "champion_version": str(version),
        "summary": (
            f"appended {days} daily batch(es) ({first_date} .. {last_date}, {len(frame)} rows) "
            f"scored by champion v{version}; {n_arrived} delayed labels arrived, labels now up to "
            f"{labelled_until}"
        ),
    }
