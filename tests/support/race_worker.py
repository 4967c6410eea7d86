"""A long-lived worker process for the race test: approves on command, reports the outcome.

Reads lines ``<config file> <user> <expected_champion> <start time>`` on stdin; for each, waits until the shared
start time given on the line (so both workers fire at the same instant), then answers one JSON
line on stdout: {"outcome": "done"|"refused"|"failed", "reason": ...}.
"""

from __future__ import annotations

import json
import sys
import time

from services.config import load_settings
from services.errors import DriftGateError, Refused
from services.promotion.approvals import approve
from services.registry.mlflow_client import make_client


def main(home: str) -> None:
    import mlflow  # noqa: F401 - warm up imports before reporting ready

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    loaded: dict[str, tuple] = {}
    for line in sys.stdin:
        config, user, expected, start_at = line.split()
        if config not in loaded:
            settings = load_settings(env={"DRIFTGATE_HOME": home}, config_file=config)
            loaded[config] = (settings, make_client(settings))
        settings, client = loaded[config]
        while time.time() < float(start_at):
            time.sleep(0.0005)
        try:
            rec = approve(settings, "churn_classifier", "2", user, expected_champion=expected, client=client)
            out = {"outcome": rec["outcome"], "reason": rec["reason"]}
        except Refused as exc:
            out = {"outcome": "refused", "reason": str(exc)}
        except DriftGateError as exc:
            out = {"outcome": "failed", "reason": str(exc)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
