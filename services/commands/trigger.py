"""CLI: ``trigger`` (is retraining due, and why) and ``retrain`` (the automated retraining run).

Exit codes (spec): 0 done; 1 retraining due with ``--fail-on-retrain``; 2 bad usage or input
(unknown model, no scoring log, impossible thresholds, MLflow unreachable); 3 refused
(``retrain`` when retraining is not due, without ``--force``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from services.commands.common import add_config, add_format, print_json, settings_from_args
from services.errors import BadInput
from services.retraining.policy import Decision


def register(sub: Any) -> None:  # argparse's private _SubParsersAction
    p = _model_command(
        sub,
        "trigger",
        "evaluate the retraining trigger policy on a model's scoring log",
        "Evaluate the scoring log window by window (dataset drift, performance drop from delayed labels), "
        "persistence and cool-down: is retraining due, and why.",
        as_of="evaluate as of this ISO date/time (UTC; default: now)",
        handler=_trigger,
    )
    p.add_argument("--fail-on-retrain", action="store_true", help="exit 1 when retraining is due (cron / jobs)")
    p.add_argument(
        "--set-task-values",
        action="store_true",
        help="in a Databricks job: publish task values retrain (bool) and reason, for a condition task",
    )
    r = _model_command(
        sub,
        "retrain",
        "run the automated retraining workflow (candidates are registered, never promoted)",
        "Train several candidates on recent labelled data as child runs of one parent run tagged with the "
        "trigger reason, re-evaluate the champion on the same window, and register the best candidate by the "
        "selection rule as a candidate version. Never promotes.",
        as_of="evaluate the trigger as of this ISO date/time (UTC)",
        handler=_retrain,
    )
    r.add_argument("--force", action="store_true", help="retrain even when the trigger says it is not due")
    r.add_argument("--user", help="author of the registered candidate (default: $DRIFTGATE_USER or retrain-bot)")


def _model_command(
    sub: Any, name: str, summary: str, description: str, *, as_of: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """A sub-command on one configured model: ``--model``, ``--config``, ``--format``, ``--as-of``."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    parser.add_argument("--model", required=True, help="registered model name ([models.<name>] in the config)")
    add_config(parser)
    add_format(parser, "text")
    parser.add_argument("--as-of", metavar="DATE", help=as_of)
    parser.set_defaults(handler=handler)
    return parser


def _trigger(args: argparse.Namespace) -> int:
    from services.retraining import trigger  # lazy: 10.8 s to import vs 1.6 s for this module (load 24)

    settings = settings_from_args(args)
    decision = trigger.evaluate(settings, args.model, as_of=args.as_of)
    if args.set_task_values:
        _set_task_values(decision)
    if args.format == "json":
        print_json(decision.to_dict())
    else:
        _print_text(decision)
    return 1 if (args.fail_on_retrain and decision.retrain) else 0


def _set_task_values(decision: Decision) -> None:
    """Databricks Jobs task values (``{{tasks.<key>.values.retrain}}`` in a condition task)."""
    # The runtime sets this variable. Outside it, importing databricks.sdk.runtime builds a
    # workspace client from whatever credentials are around (2.7 s here, and not a job's dbutils).
    if not os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        raise BadInput("--set-task-values works inside a Databricks job only (DATABRICKS_RUNTIME_VERSION is not set)")
    try:
        from databricks.sdk.runtime import dbutils  # lazy: only resolvable inside a Databricks job

        task_values = dbutils.jobs.taskValues
    except Exception:
        raise BadInput("--set-task-values works inside a Databricks job only (no dbutils here)") from None
    task_values.set(key="retrain", value=bool(decision.retrain))
    task_values.set(key="reason", value="; ".join(decision.reasons)[:1000])
    task_values.set(key="cooldown_until", value=decision.cooldown_until.isoformat() if decision.cooldown_until else "")


def _print_text(decision: Decision) -> None:
    out = sys.stdout
    out.write(
        f"{decision.model}: {'RETRAINING DUE' if decision.retrain else 'no retraining'}"
        f" (as of {decision.as_of.isoformat(timespec='minutes')})\n"
    )
    for reason in decision.reasons:
        out.write(f"  - {reason}\n")
    if decision.cooldown_until:
        out.write(f"  cool-down until {decision.cooldown_until.isoformat(timespec='minutes')}\n")
    out.write(f"  {'window':<12} {'rows':>6} {'drift':>6} {decision.metric:>8} {'drop':>7}  breach  drifted\n")
    for w in decision.windows:
        share = "-" if w.drift_share is None else f"{w.drift_share:.2f}"
        perf = "-" if w.performance is None else f"{w.performance:.3f}"
        drop = "-" if w.performance_drop is None else f"{w.performance_drop:+.3f}"
        flag = "YES" if w.breach else ""
        out.write(
            f"  {w.start.date().isoformat():<12} {w.rows:>6} {share:>6} {perf:>8} {drop:>7}  {flag:<6}  "
            f"{','.join(w.drifted_features)}\n"
        )


def _retrain(args: argparse.Namespace) -> int:
    from services.retraining import retrain  # lazy: 17.9 s to import (sklearn, MLflow; load 24)

    # MLflow's cloudpickle advice and similar notices are not for the operator of this command.
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    settings = settings_from_args(args)
    result = retrain.retrain(settings, args.model, force=args.force, as_of=args.as_of, user=args.user)
    if args.format == "json":
        print_json(result)
    else:
        out = sys.stdout
        out.write(
            f"retraining run {result['parent_run']['run_name']} ({result['parent_run']['run_id']}) "
            f"in experiment {result['experiment']}\n"
        )
        out.write(f"  reason: {result['reason']}\n")
        out.write(f"  rule: {result['selection_rule']}\n")
        ch = result.get("champion")
        if ch:
            out.write(
                f"  champion v{ch['version']}: {result['metric']} {ch['metrics'].get(result['metric'], float('nan')):.4f}\n"
            )
        for c in result["candidates"]:
            mark = " <- registered as version " + str(result["registered_version"]) if c["winner"] else ""
            out.write(
                f"  {c['run_name']}: {result['metric']} {c['metrics'].get(result['metric'], float('nan')):.4f}{mark}\n"
            )
        out.write("  nothing was promoted: review the candidate on the Leaderboard and Promotions pages\n")
    return 0
