"""``demo``: seed, reset or advance the embedded demo workspace."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.commands.common import add_format, print_json, settings_from_args
from services.errors import BadInput

_DESCRIPTION = (
    "Seed the embedded demo workspace (real MLflow store, scoring log, ground truth) "
    "into $DRIFTGATE_HOME. Only when no MLFLOW_TRACKING_URI is configured."
)


def register(sub: Any) -> None:  # argparse's private _SubParsersAction
    p = sub.add_parser(
        "demo",
        help="seed (or --reset, or advance) the embedded demo workspace in $DRIFTGATE_HOME",
        description=_DESCRIPTION,
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=("seed", "advance"),
        default="seed",
        help="seed (default) or advance: append --days more daily batches to the scoring log",
    )
    p.add_argument("--reset", action="store_true", help="wipe the workspace's own files and seed again")
    p.add_argument("--days", type=int, default=1, help="with advance: number of daily batches to append")
    add_format(p, "text")
    p.set_defaults(handler=run)


def _progress(fraction: float, message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"[{fraction:4.0%}] {message}\n")


def run(args: argparse.Namespace) -> int:
    from services.demo import seed as demo  # lazy: sklearn + MLflow, as retrain (17.9 s at load 24)

    settings = settings_from_args(args)
    if not settings.demo:
        raise BadInput("MLFLOW_TRACKING_URI points at a configured server; the demo is never written there")
    if args.action == "advance":
        if args.reset:
            raise BadInput("--reset does not go with advance")
        if args.days < 1 or args.days > 365:
            raise BadInput("--days must be between 1 and 365")
        from services.demo import advance as demo_advance  # lazy: as above

        demo.ensure_demo(settings, progress=_progress)
        result = demo_advance.advance(settings, args.days)
        if args.format == "json":
            print_json(result)
        else:
            print(result.get("summary", f"appended {args.days} day(s)"))
        return 0
    was_seeded = demo.is_seeded(settings.home)
    manifest = demo.ensure_demo(settings, progress=_progress, reset=args.reset)
    if args.format == "json":
        print_json(manifest)
    elif was_seeded and not args.reset:
        print(f"demo workspace already seeded ({manifest['rows']} scoring rows, start {manifest['start_date']})")
    else:
        print(
            f"demo workspace seeded in {manifest['seconds']} s: {manifest['rows']} scoring rows, "
            f"champion v{manifest['versions']['champion']}, candidates "
            f"v{manifest['versions']['passing_candidate']} and v{manifest['versions']['failing_candidate']}"
        )
    return 0
