"""The headless job: ``python -m services.cli profile --model M [--backfill]``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.config import ReferenceWindow, Settings
from services.drift.model import _select, drift_over_time, model_data, reference_profile
from services.drift.profile import Profile
from services.drift.pushdown import profiles_by_window
from services.drift.reference_window import CHAMPION, choose_reference
from services.drift.window_store.store import StoreUnavailable, WindowStore, store_path
from services.drift.window_store.windows import Progress, window_profiles
from services.errors import BadInput, DriftGateError
from services.warehouse.sources import open_backend


def _move_corrupted(path: Path) -> Path | None:
    """``--backfill`` on a corrupted DuckDB store file: move it aside (rebuilt from scratch)."""
    if not path.exists():
        return None
    try:
        WindowStore(path).close()
        return None
    except StoreUnavailable as exc:
        if "corrupted" not in str(exc):
            raise BadInput(str(exc)) from None
    moved = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    path.replace(moved)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.unlink()
    return moved


def profile_model(
    settings: Settings,
    model: str,
    *,
    backfill: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """``python -m services.cli profile``: profile (and store) every closed day of the model's
    scoring log not stored yet or whose watermark moved; ``backfill``: every day from scratch
    (a corrupted store file is moved aside and rebuilt). Against the reference the Drift page
    and the trigger use (with a ``client``: :func:`~services.drift.reference_window.choose_reference`,
    so their reads hit the stored days; without: the configured ``reference_window``)."""
    path = store_path(settings)
    if path is None:
        raise BadInput("the profile store is off ([drift] window_store = false)")
    reference, ref_note = _reference(settings, model, client)
    data = model_data(settings, model, reference=reference)
    ts = data.timestamp
    if not ts:
        raise BadInput(f"model {model!r} has no timestamp column configured")
    feats = _select(data, None, False)
    moved = _move_corrupted(path) if backfill and data.source.type != "spark" else None
    ref = reference_profile(settings, model, features=feats, data=data, progress=progress)
    with open_backend(data.source, settings) as b:

        def profiler(run: tuple[datetime, datetime]) -> list[tuple[Any, Profile]]:
            got = profiles_by_window(
                b,
                feats,
                side="current",
                bounds=run,
                ts=ts,
                reference=ref,
                source=data.source.name,
                group_by="day",
                progress=progress,
            )
            return got if isinstance(got, list) else [(None, got)]

        days, info = window_profiles(
            settings,
            model,
            b,
            data.source,
            feats,
            ts,
            ref,
            (None, None),
            profiler,
            now=now,
            backfill=backfill,
            progress=progress,
        )
    if days is None:
        hint = " (run with --backfill to rebuild it)" if any("corrupted" in n for n in info.notes) else ""
        raise BadInput(info.notes[-1].split(": full re-scan")[0] + hint)
    if moved is not None:
        info.notes.insert(0, f"corrupted store moved aside to {moved.name} and rebuilt")
    if ref_note:
        info.notes.insert(0, ref_note)
    # the days' drift results under the configured policy, so the page and the trigger only read
    drift_over_time(settings, model, unit="day", now=now, reference=reference)
    doc = info.to_dict()
    doc.update(
        model=model,
        store=info.path,
        reference={"window": ref.window, "rows": ref.rows},
        days=len(days),
        first=days[0][0].isoformat() if days else None,
        last=days[-1][0].isoformat() if days else None,
    )
    return doc


def _reference(settings: Settings, model: str, client: Any) -> tuple[ReferenceWindow | None, str | None]:
    """The reference window to profile against and a note when it is not the configured one or
    the champion could not be read (the job still runs, against the configured window)."""
    if client is None or settings.model_spec(model) is None:
        return None, None
    try:
        chosen = choose_reference(settings, model, client)
    except DriftGateError as exc:
        return None, f"reference: the configured reference_window (the champion's is unknown: {exc})"
    return chosen.window, (f"reference: {chosen.why}" if chosen.source == CHAMPION else None)
