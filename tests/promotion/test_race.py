"""Two processes approve the same candidate at the same instant, 20 times: exactly one
transition every time, the loser is refused (stale state) and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from services.promotion import audit
from services.promotion.approvals import rollback
from services.registry.lifecycle import make_lifecycle
from services.registry.mlflow_client import make_client
from tests.support.demo import MODEL, settings_with

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = {"aliases": 20, "stages": 6}  # stages mode: the same guard code, fewer rounds for time


def _worker(home: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.race_worker", str(home)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None  # stdout=PIPE
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_two_processes_race(demo_copy):
    """Both lifecycles, with the same two worker processes (started once: imports are slow)."""
    workers = [_worker(demo_copy.home) for _ in range(2)]
    try:
        for lifecycle in ("aliases", "stages"):
            _race(demo_copy.home, workers, lifecycle)
    finally:
        for p in workers:
            assert p.stdin is not None  # stdin=PIPE
            p.stdin.close()
            p.wait(timeout=30)


def _race(home: Path, workers, lifecycle: str, settings=None, rounds: int | None = None) -> None:
    """``rounds`` races of the two ``workers`` (``settings``: the workspace's, default the demo's
    with alice and dave as approvers; the PostgreSQL test passes its own)."""
    settings = settings or settings_with(home, '[roles]\napprovers = ["alice", "dave"]\n', lifecycle=lifecycle)
    rounds = rounds or ROUNDS[lifecycle]
    config = home / f"race-{lifecycle}.toml"
    config.write_text(settings.config_path.read_text())
    client = make_client(settings)
    lc = make_lifecycle(settings, client, MODEL)
    done_before = sum(r["outcome"] == "done" for r in audit.query(settings, model=MODEL, action="approve"))
    winners = []
    for round_no in range(rounds):
        assert lc.state().champion == "1"
        start_at = time.time() + 0.3
        for proc, user in zip(workers, ("alice", "dave")):
            proc.stdin.write(f"{config} {user} 1 {start_at}\n")
            proc.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in workers]
        outcomes = sorted(r["outcome"] for r in results)
        assert outcomes == ["done", "refused"], (lifecycle, round_no, results)
        loser = next(r for r in results if r["outcome"] == "refused")
        assert "stale state" in loser["reason"]
        winners.append(next(i for i, r in enumerate(results) if r["outcome"] == "done"))
        assert lc.state().champion == "2" and lc.champion_count() == 1
        rollback(settings, MODEL, "alice", f"reset after round {round_no}", client=client)
    records = audit.query(settings, model=MODEL, action="approve")
    assert sum(r["outcome"] == "done" for r in records) - done_before == rounds
    print(
        f"race {lifecycle} ({settings.audit_url.split(':', 1)[0]}): {rounds} rounds, exactly one transition each; winner split "
        f"{winners.count(0)}/{winners.count(1)}"
    )
