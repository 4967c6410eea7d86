"""CLI: ``estimate`` — estimated performance (CBPE) of a binary classifier before its labels arrive.

``python -m services.cli estimate --model M [--unit day|week] [--format json|text]`` for a
configured model's scoring log (every window, labelled or not), or
``estimate --reference REF --current CUR --prediction COL --label COL`` for two CSV/Parquet files
(the reference must hold labels). Exit 0; 2 with one line on stderr for bad input (a window too
small, all predictions missing, probabilities outside [0, 1], a label that is not 0/1…).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.commands.common import add_config, add_format, print_json, settings_from_args
from services.errors import BadInput


def register(sub: Any) -> None:  # argparse's private _SubParsersAction
    p = sub.add_parser(
        "estimate",
        help="estimate a binary classifier's ROC AUC on windows without labels (CBPE)",
        description="Calibrate the predicted probabilities on the labelled reference window (isotonic), "
        "then estimate each window's ROC AUC from its scores, with a band; warns when realised and "
        "estimated performance diverge on labelled windows (concept drift).",
    )
    p.add_argument("--model", help="registered model name ([models.<name>] with a scoring log)")
    p.add_argument("--unit", choices=("day", "week"), help="window size for --model (default: [drift] window)")
    p.add_argument("--reference", metavar="FILE", help="labelled reference file (CSV or Parquet)")
    p.add_argument("--current", metavar="FILE", help="current file (CSV or Parquet)")
    p.add_argument("--prediction", default="prediction", help="predicted probability column (default: prediction)")
    p.add_argument("--label", default="label", help="binary label column (default: label)")
    add_config(p)
    add_format(p, "text")
    p.set_defaults(handler=_estimate)


def _read(path: str) -> Any:  # a pandas DataFrame
    import pandas as pd  # lazy: pandas is not needed by --model or --help

    f = Path(path)
    if not f.is_file():
        raise BadInput(f"file not found: {path}")
    try:
        if f.suffix.lower() == ".csv":
            return pd.read_csv(f)
        if f.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(f)
    except Exception as exc:
        raise BadInput(f"cannot read {path}: {type(exc).__name__}") from None
    raise BadInput(f"unknown file format {f.suffix or '(none)'} for {path} (CSV or Parquet)")


def _estimate(args: argparse.Namespace) -> int:
    from services.drift import estimation  # lazy: the drift engine is not needed for --help

    if args.model and (args.reference or args.current):
        raise BadInput("use either --model or --reference/--current, not both")
    if args.model:
        doc = estimation.estimated_performance(settings_from_args(args), args.model, unit=args.unit)
    elif args.reference and args.current:
        doc = estimation.estimate_frames(
            _read(args.reference), _read(args.current), prediction=args.prediction, label=args.label
        )
    else:
        raise BadInput("give --model, or both --reference and --current")
    if args.format == "json":
        print_json(doc)
    else:
        sys.stdout.write(format_text(doc))
    return 0


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_text(doc: dict[str, Any]) -> str:
    lines = [
        doc["assumption"],
        f"reference: {doc['reference']['labelled']} labelled rows, ROC AUC {_num(doc['reference']['roc_auc'])}",
        "",
        f"{'window':<12} {'rows':>7} {'labelled':>8} {'estimated':>9} {'band':>15} {'realised':>8}",
    ]
    for w in doc["windows"]:
        band = "-" if not w["band"] else f"{w['band'][0]:.3f}–{w['band'][1]:.3f}"
        lines.append(
            f"{str(w['start'])[:12]:<12} {w['rows']:>7} {w['labelled']:>8} {_num(w['estimated_roc_auc']):>9} "
            f"{band:>15} {_num(w['realised_roc_auc']):>8}"
            + ("  diverged" if w["diverged"] else "")
            + (f"  ({w['note']})" if w["note"] else "")
        )
    if doc["warning"]:
        lines += ["", f"WARNING: {doc['warning']} ({len(doc['diverged_windows'])} windows diverged)"]
    return "\n".join(lines) + "\n"
