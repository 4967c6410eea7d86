"""Entry file for Databricks jobs (see docs/trigger.md): runs ``services.cli`` with the task's
parameters, e.g. ``trigger --model M --format json --set-task-values``."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from services.cli import main

raise SystemExit(main(sys.argv[1:]))
