"""DriftGate's single headless entry point: ``python -m services.cli COMMAND ...``.

Each command lives in ``services/commands/<area>.py`` and exposes ``register(subparsers)``;
its handler gets ``(args)`` and returns an exit code. Exit codes (spec): 0 done, 1 drift /
retraining due with ``--fail-on-…``, 2 bad usage or input, 3 refused. Errors reach stderr as
one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from services.commands import COMMAND_MODULES
from services.errors import DriftGateError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr and exit 2 (spec)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m services.cli",
        description="DriftGate: drift review, candidate leaderboards and gated model promotion.",
        epilog="Exit codes: 0 done; 1 drift/retraining due (with --fail-on-…); "
        "2 bad usage or input; 3 refused (role, four-eyes, gate failed, stale state).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def _quiet_libraries() -> None:
    """The one-line contract: connector/SDK log lines and ``__del__`` tracebacks of half-open
    Databricks connections stay off stderr (``DRIFTGATE_DEBUG=1`` shows them)."""
    if os.environ.get("DRIFTGATE_DEBUG"):
        return
    for name in ("databricks", "databricks.sql", "databricks.sdk", "urllib3", "thrift", "py4j"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    default = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        obj = unraisable.object
        where = f"{getattr(obj, '__module__', '')} {getattr(obj, '__qualname__', '')} {type(obj).__module__}"
        if "databricks" in where or "thrift" in where:
            return
        default(unraisable)

    sys.unraisablehook = hook


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return int(args.handler(args) or 0)
    except DriftGateError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a folder that cannot be created or written (DRIFTGATE_HOME under /proc...)
        if os.environ.get("DRIFTGATE_DEBUG"):
            raise
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"error: {exc.strerror or type(exc).__name__}{where}\n")
        return 2
    except Exception as exc:
        if os.environ.get("DRIFTGATE_DEBUG"):
            raise
        sys.stderr.write(f"error: unexpected {type(exc).__name__} (run with DRIFTGATE_DEBUG=1 for details)\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
