"""A process that starts an approval and hangs in the middle of it, to be killed (SIGKILL) there.

``python -m tests.promotion.crash_worker <home> <config> <write number>``: approves v2 of
churn_classifier as alice; registry write number ``k`` prints ``stuck`` on stdout and never
returns, so the transition stays claimed in the audit store with this process as its owner.
"""

from __future__ import annotations

import sys
import time

from services.approvals import approve
from services.config import load_settings
from services.mlflow_client import make_client
from tests.promotion.test_failure_injection import WRITES


class HangingClient:
    def __init__(self, client, hang_at: int):
        self._client, self.hang_at, self.writes = client, hang_at, 0

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name not in WRITES:
            return attr

        def write(*args, **kwargs):
            self.writes += 1
            if self.writes == self.hang_at:
                sys.stdout.write("stuck\n")
                sys.stdout.flush()
                while True:
                    time.sleep(60)
            return attr(*args, **kwargs)

        return write


def main(home: str, config: str, hang_at: str) -> None:
    settings = load_settings(env={"DRIFTGATE_HOME": home}, config_file=config)
    approve(settings, "churn_classifier", "2", "alice", client=HangingClient(make_client(settings), int(hang_at)))
    sys.stdout.write("finished\n")  # never reached: the test kills this process first


if __name__ == "__main__":
    main(*sys.argv[1:4])
