"""``python -m services.cli profile``: stored per-window profiles of a model's scoring log.

    profile --model M [--backfill] [--config FILE] [--format json|text]

Profiles every closed UTC day of the model's scoring log that is not stored yet, or whose
watermark (row count, max(event time)) moved since it was stored (late rows), and stores it in the
window store (``$DRIFTGATE_HOME/window_profiles.duckdb``, or a table beside a Spark source; see
``services/drift/window_store/``).
``--backfill`` re-profiles every day from scratch. Meant for a nightly cron line / job task, so that
the Drift page and the trigger only read stored days. Exit 0 done; 2 bad input (one line).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.commands.common import add_config, add_format, print_json, settings_from_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "profile",
        help="profile and store each closed day of a model's scoring log",
        description="Profile each closed day of the model's scoring log once (incremental), "
        "for drift over time, the Drift page and the trigger.",
    )
    p.add_argument("--model", required=True, help="model name ([models.<name>] in the config)")
    p.add_argument("--backfill", action="store_true", help="re-profile every day from scratch")
    add_config(p)
    add_format(p, "text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    import duckdb

    from services.drift.window_store import profile_model
    from services.errors import BadInput

    settings = settings_from_args(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = profile_model(settings, args.model, backfill=args.backfill, client=_client(settings, args.model))
    except (duckdb.Error, OSError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise BadInput(f"cannot read the scoring log ({type(exc).__name__}: {first})") from None
    if args.format == "json":
        print_json(doc)
        return 0
    out = sys.stdout
    out.write(
        f"{doc['model']}: {doc['days']} day(s) with rows"
        + (f", {doc['first']} to {doc['last']}" if doc["days"] else "")
        + f" (store {doc['store']})\n"
    )
    late = f"late rows in {', '.join(doc['late'])}" if doc["late"] else "no late rows"
    out.write(f"  reused {doc['reused']}, profiled {len(doc['profiled'])}, {late}\n")
    if doc["open"]:
        out.write(f"  open (not stored): {', '.join(doc['open'])}\n")
    if doc["gaps"]:
        out.write(f"  days without rows: {', '.join(doc['gaps'][:20])}{' …' if len(doc['gaps']) > 20 else ''}\n")
    for note in doc["notes"]:
        out.write(f"  note: {note}\n")
    return 0


def _client(settings: Any, model: str) -> Any:
    """The MLflow client for the champion's reference window; None for a model without a scoring
    log (bad input, reported by the job; no MLflow store is touched), for ``reference = "config"``
    (the configured window needs no registry: the job skips MLflow's ≈ 2.7 s import and store
    set-up) or an unusable URI (the configured reference window is used then)."""
    from services.drift.reference_window import CHAMPION, reference_mode
    from services.errors import DriftGateError

    spec = settings.model_spec(model)
    if spec is None or not spec.source or reference_mode(settings, model) != CHAMPION:
        return None
    from services.registry.mlflow_client import make_client  # lazy: imports mlflow (≈ 1.6 s)

    try:
        return make_client(settings)
    except DriftGateError:
        return None
