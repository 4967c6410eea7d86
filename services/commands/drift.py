"""``python -m services.cli drift``: the spec's drift engine contract on files.

    drift --reference REF --current CUR [--numerical A,B] [--categorical C,D] [--columns A,B,C]
          [--engine memory|duckdb|spark] [--config FILE] [--format json|text] [--fail-on-drift]
          [--reference-profile FILE] [--save-profile FILE]

Exit 0; 1 with --fail-on-drift when the dataset drifts; 2 bad input (one line on stderr, nothing
on stdout). Progress per feature on stderr only when stderr is a terminal.

``--engine spark`` runs the pushdown statements on Spark (``SPARK_REMOTE`` / ``[spark] remote``: a
Spark Connect server, else a local session); it needs ``pip install -r requirements-spark.txt``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from services.commands.common import add_config, add_format, print_json, settings_from_args
from services.errors import BadInput, DriftGateError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="per-feature drift tests between a reference and a current dataset",
        description="Compare CUR against REF (CSV, Parquet or Delta table folders).",
    )
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--reference", metavar="REF", help="reference data: CSV, Parquet file/folder, Delta folder")
    ref.add_argument("--reference-profile", metavar="FILE", help="a stored reference profile (JSON) instead of REF")
    p.add_argument("--current", metavar="CUR", required=True, help="current data (same formats)")
    p.add_argument("--numerical", metavar="A,B", default="", help="force these columns numeric")
    p.add_argument("--categorical", metavar="C,D", default="", help="force these columns categorical")
    p.add_argument("--columns", metavar="A,B,C", default="", help="report only these columns, in this order")
    p.add_argument(
        "--engine",
        choices=("memory", "duckdb", "spark"),
        default="memory",
        help="memory (exact), duckdb (pushdown) or spark (pushdown on SPARK_REMOTE or a local session)",
    )
    p.add_argument("--save-profile", metavar="FILE", help="also store the reference profile as JSON")
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when the dataset drifts")
    add_config(p)
    add_format(p, default="text")
    p.set_defaults(handler=run)


def _list(text: str) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def run(args: argparse.Namespace) -> int:
    """Bad input of any kind ends as one line on stderr (exit 2), never as a traceback."""
    # lazy (PLC0415): duckdb costs 0.14 s of CLI start-up, which imports every command's module
    import duckdb

    try:
        with warnings.catch_warnings():  # stderr stays empty on success (spec)
            warnings.simplefilter("ignore")
            return _run(args)
    except DriftGateError:
        raise
    except (duckdb.Error, OSError, ValueError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise BadInput(f"cannot read the input ({type(exc).__name__}: {first})") from None
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise BadInput(f"drift check failed ({type(exc).__name__}: {first})") from None


def _run(args: argparse.Namespace) -> int:
    # lazy (PLC0415): the engine's imports cost 0.7 s of CLI start-up; only this command needs them
    from services.drift.engine import build_reference_profile, drift_report
    from services.drift.features import plan_features
    from services.drift.policy import Policy
    from services.drift.profile import Profile, Progress
    from services.warehouse.sources import Source, open_backend, source_from_path

    settings = settings_from_args(args)
    policy = Policy.from_settings(settings)
    progress: Progress | None = None
    if sys.stderr.isatty():

        def show(msg: str) -> None:
            sys.stderr.write(f"\r\033[K{msg}")
            sys.stderr.flush()

        progress = show

    columns, numerical, categorical = _list(args.columns), _list(args.numerical), _list(args.categorical)
    current = source_from_path(args.current)
    reference: Profile | Source
    if args.reference_profile:
        reference = Profile.load(args.reference_profile)
    else:
        reference = source_from_path(args.reference)
        if args.save_profile:
            with open_backend(reference, settings) as rb, open_backend(current, settings) as cb:
                features = plan_features(rb, cb, columns=columns, numerical=numerical, categorical=categorical)
            prof = build_reference_profile(reference, features, engine="duckdb", settings=settings, progress=progress)
            try:
                prof.save(args.save_profile)
            except OSError as exc:
                raise BadInput(f"cannot write profile {args.save_profile}: {exc.strerror}") from None
    report = drift_report(
        reference,
        current,
        columns=columns,
        numerical=numerical,
        categorical=categorical,
        engine=args.engine,
        policy=policy,
        settings=settings,
        progress=progress,
    )
    if progress:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
    if args.format == "json":
        print_json(report)
    else:
        sys.stdout.write(format_text(report))
    return 1 if args.fail_on_drift and report["dataset"]["drifted"] else 0


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def format_text(report: dict[str, Any]) -> str:
    from services.drift.policy import sensitivity_note

    lines = [
        f"reference: {report['reference']['source']} ({report['reference']['rows']} rows)",
        f"current:   {report['current']['source']} ({report['current']['rows']} rows)",
        f"engine: {report['engine']}" + (" (approximate ks/wasserstein)" if report["approximate"] else ""),
        "",
    ]
    header = f"{'feature':<24} {'kind':<11} {'test':<13} {'statistic':>10} {'p-value':>10} {'p-adj':>10} {'thresh':>7}  drifted"
    lines.append(header)
    for f in report["features"]:
        lines.append(
            f"{f['feature'][:24]:<24} {f['kind']:<11} {f['test']:<13} {_num(f['statistic']):>10} "
            f"{_num(f['p_value']):>10} {_num(f['p_value_adjusted']):>10} {_num(f['threshold']):>7}  "
            f"{'YES' if f['drifted'] else 'no'}"
        )
    notes = [f"  {f['feature']}: {n}" for f in report["features"] if (n := sensitivity_note(f))]
    if notes:
        lines += ["", 'sensitivity ("no drift" cannot rule these out):', *notes]
    d = report["dataset"]
    lines += [
        "",
        f"dataset: {d['drifted_features']}/{d['total_features']} features drifted "
        f"(share {d['drift_share']:.2f}, threshold {d['threshold']:.2f}) -> "
        f"{'DRIFT' if d['drifted'] else 'no drift'}",
    ]
    return "\n".join(lines) + "\n"
