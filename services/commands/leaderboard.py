"""``python -m services.cli leaderboard``: candidates of a retraining run ranked by a metric (spec).

    python -m services.cli leaderboard --experiment NAME [--parent-run ID] --metric M
        [--lower-is-better] [--filter "params.x = 'y'"] [--config FILE] [--format json|text]

Exit 0 with the leaderboard; 2 with a one-line reason on stderr for an unknown experiment, run or
metric, or an unreachable server.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.commands.common import add_config, add_format, print_json, settings_from_args
from services.errors import BadInput


def register(sub: Any) -> None:  # argparse's private _SubParsersAction
    p = sub.add_parser(
        "leaderboard",
        help="rank a retraining run's candidates by a metric against the champion baseline",
        description="Rank the child runs of a retraining (parent) run by a metric. Default parent: the "
        "experiment's most recent run that has children; without parent runs every run is ranked.",
    )
    p.add_argument("--experiment", required=True, metavar="NAME", help="MLflow experiment name (or id)")
    p.add_argument("--parent-run", metavar="ID", help="retraining (parent) run id")
    p.add_argument(
        "--metric", metavar="M", help="selection metric (default: the model's selection_metric in the config)"
    )
    p.add_argument("--lower-is-better", action="store_true", help="rank ascending (e.g. log_loss)")
    p.add_argument("--filter", default="", metavar="EXPR", help="extra MLflow search filter on the runs")
    p.add_argument("--page-size", type=int, default=1000, help=argparse.SUPPRESS)
    add_config(p)
    add_format(p, default="json")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from services.compare.leaderboard import build_leaderboard
    from services.registry.mlflow_client import make_client
    from services.registry.runs import model_settings_for_experiment

    settings = settings_from_args(args)
    metric = args.metric
    greater = not args.lower_is_better
    if not metric:
        _, cfg = model_settings_for_experiment(settings, args.experiment)
        metric = cfg.get("selection_metric")
        if not metric:
            raise BadInput("no --metric given and no selection_metric configured for this experiment")
        if not args.lower_is_better and "greater_is_better" in cfg:
            greater = bool(cfg["greater_is_better"])
    if args.page_size < 1:
        raise BadInput("--page-size must be at least 1")
    board = build_leaderboard(
        make_client(settings),
        args.experiment,
        metric,
        parent_run=args.parent_run,
        greater_is_better=greater,
        filter_string=args.filter,
        page_size=args.page_size,
    )
    if args.format == "json":
        print_json(board.to_json())
        return 0
    out = sys.stdout
    direction = "higher" if board.greater_is_better else "lower"
    out.write(
        f"experiment {board.experiment.name}  parent run {board.parent.run_id if board.parent else '-'}"
        f"  metric {board.metric} ({direction} is better)\n"
    )
    for note in board.notes:
        out.write(f"note: {note}\n")
    out.write(f"{'rank':>4}  {'run':<28} {'value':>10} {'delta':>10}  role\n")
    for r in board.rows:
        rank = "-" if r.rank is None else str(r.rank)
        val = "-" if r.value is None else f"{r.value:.4f}"
        dlt = "-" if r.delta_vs_champion is None else f"{r.delta_vs_champion:+.4f}"
        role = "champion baseline" if r.is_champion else ("winner" if r.rank == 1 else "")
        out.write(f"{rank:>4}  {r.run.run_name[:28]:<28} {val:>10} {dlt:>10}  {role}\n")
    return 0
