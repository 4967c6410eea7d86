"""A process that starts a decision and hangs just before registry write ``k``, to be SIGKILLed.

``python -m tests.hardening.kill_worker <home> <config> <approve|rollback> <k>`` prints ``stuck``
when it reaches write ``k`` (which it never makes) and ``finished`` if the plan had fewer writes.
"""

from __future__ import annotations

import sys
import time

from services.approvals import REGISTRY_WRITES, approve, rollback
from services.config import load_settings
from services.mlflow_client import make_client


class HangBefore:
    def __init__(self, client, k: int):
        self._client, self.k, self.writes = client, k, 0

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in REGISTRY_WRITES:
            return attr

        def write(*args, **kwargs):
            self.writes += 1
            if self.writes == self.k:
                sys.stdout.write("stuck\n")
                sys.stdout.flush()
                while True:
                    time.sleep(60)
            return attr(*args, **kwargs)

        return write


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
