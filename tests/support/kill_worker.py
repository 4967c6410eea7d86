"""A process that starts a decision and hangs just before registry write ``k``, to be SIGKILLed.

``python -m tests.support.kill_worker <home> <config> <approve|rollback> <k>`` prints ``stuck``
when it reaches write ``k`` (which it never makes) and ``finished`` if the plan had fewer writes.
"""

from __future__ import annotations

import sys
import time

from services.config import load_settings
from services.promotion.approvals import approve, rollback
from services.registry.mlflow_client import make_client
from tests.support.registry import RegistryWriteHook


class HangBefore(RegistryWriteHook):
    def __init__(self, client, k: int):
        super().__init__(client)
        self.k = k

    def before_write(self, n: int, name: str) -> None:
        if n == self.k:
            sys.stdout.write("stuck\n")
            sys.stdout.flush()
            while True:
                time.sleep(60)


def main(home: str, config: str, action: str, k: str) -> None:
    settings = load_settings(env={"DRIFTGATE_HOME": home}, config_file=config)
    client = HangBefore(make_client(settings), int(k))
    if action == "approve":
        approve(settings, "churn_classifier", "2", "alice", client=client)
    else:
        rollback(settings, "churn_classifier", "alice", "back", client=client)
    sys.stdout.write("finished\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(*sys.argv[1:5])
