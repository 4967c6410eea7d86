"""DriftGate's single headless entry point: ``python -m services.cli COMMAND ...``.

Each command lives in ``services/commands/<area>.py`` and exposes ``register(subparsers)``;
its handler gets ``(args)`` and returns an exit code. Exit codes (spec): 0 done, 1 drift /
retraining due with ``--fail-on-…``, 2 bad usage or input, 3 refused. Errors reach stderr as
one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from services.errors import DriftGateError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line on stderr and exit 2 (spec)."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from services.commands import COMMAND_MODULES

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    raise SystemExit(main())
