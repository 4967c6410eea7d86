"""Helpers shared by CLI command modules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from services.config import Settings, load_settings


def settings_from_args(args: argparse.Namespace) -> Settings:
    return load_settings(config_file=getattr(args, "config", None))


def print_json(doc: Any) -> None:
    """JSON on stdout, nothing else; NaN/inf become null (JSON has no such numbers)."""
    sys.stdout.write(json.dumps(_finite(doc), indent=2, default=str) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def add_format(parser: argparse.ArgumentParser, default: str = "text") -> None:
    parser.add_argument("--format", choices=("json", "text"), default=default, help="output format")


def add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: $DRIFTGATE_CONFIG or ./driftgate.toml)"
    )
