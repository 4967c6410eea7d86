"""Soak test of the promotion guard (issue 13): races, kills at every registry write, random delays.

    python bench/soak.py [--rounds 3] [--kill-rounds 1] [--home DIR]

Bounded (a few minutes on 2 cores) and local only: a seeded demo workspace in a temporary folder
(SQLite MLflow store + SQLite audit store, no server, nothing listens on any port). It prints the
counts; the guard holds when ``double transitions``, ``broken states`` and ``recoveries needing a
second attempt`` are all 0.

* races: 2 and 4 approvers firing at the same instant, and approve vs reject, each with random
  0-20 ms delays before every registry write; after each round exactly one champion, at most one
  ``done`` promotion, no version both champion and previous, no claim left in progress;
* kills: a process SIGKILLed while it hangs before registry write k, for every k of approve and
  rollback (both lifecycles), plus kills after a random delay; the next caller must restore the
  registry on its first ``recover()``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "churn_classifier"


# -- worker (a separate process; ``--worker HOME``) ---------------------------------------------
class _Jitter:
    """The real client with a random 0-``ms`` delay before each registry write."""

    def __init__(self, client, ms: float):
        self._client, self.ms = client, ms

    def __getattr__(self, name):
        from services.promotion.approvals import REGISTRY_WRITES

        attr = getattr(self._client, name)
        if name not in REGISTRY_WRITES:
            return attr

        def write(*a, **kw):
            time.sleep(random.random() * self.ms / 1000)
            return attr(*a, **kw)

        return write


def worker(home: str) -> None:
    from services.config import load_settings
    from services.errors import DriftGateError, Refused
    from services.promotion.approvals import approve, reject
    from services.registry.mlflow_client import make_client

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    cache: dict[str, tuple] = {}
    for line in sys.stdin:
        job = json.loads(line)
        if job["config"] not in cache:
            s = load_settings(env={"DRIFTGATE_HOME": home}, config_file=job["config"])
            cache[job["config"]] = (s, make_client(s))
        settings, client = cache[job["config"]]
        jittery = _Jitter(client, job.get("jitter_ms", 20))
        while time.time() < job["start_at"]:
            time.sleep(0.0005)
        try:
            if job["action"] == "approve":
                rec = approve(settings, MODEL, "2", job["user"], expected_champion="1", client=jittery)
            else:
                rec = reject(settings, MODEL, "2", job["user"], "not this one", expected_champion="1", client=jittery)
            out = {"outcome": rec["outcome"], "reason": rec["reason"]}
        except Refused as exc:
            out = {"outcome": "refused", "reason": str(exc)}
        except DriftGateError as exc:
            out = {"outcome": "failed", "reason": str(exc)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


# -- driver --------------------------------------------------------------------------------------
def _settings(home: Path, lifecycle: str, extra: str = ""):
    from services.config import load_settings

    cfg = home / f"soak-{lifecycle}.toml"
    cfg.write_text(
        f'[mlflow]\nlifecycle = "{lifecycle}"\n[roles]\napprovers = ["alice", "dave", "erin", "frank"]\n{extra}'
    )
    return load_settings(env={"DRIFTGATE_HOME": str(home)}, config_file=cfg)


def _broken(settings, client) -> str | None:
    """Why the registry / guard is not in a sane state (None when it is)."""
    from services.promotion import audit
    from services.registry.lifecycle import make_lifecycle

    lc = make_lifecycle(settings, client, MODEL)
    st = lc.state()
    if lc.champion_count() != 1:
        return f"{lc.champion_count()} champions"
    if st.previous and st.previous == st.champion:
        return f"v{st.champion} is champion and previous"
    if st.champion == "2" and st.previous != "1":
        return f"rollback target lost (previous {st.previous})"
    if audit.in_progress(settings):
        return "a claim left in progress"
    return None


def _reset(settings, client, snap) -> None:
    from services.registry.lifecycle import make_lifecycle

    make_lifecycle(settings, client, MODEL).restore(snap)


def _pipe(stream: IO[str] | None) -> IO[str]:
    assert stream is not None  # the process was started with subprocess.PIPE
    return stream


def races(home: Path, rounds: int, counts: dict) -> None:
    from services.promotion import audit
    from services.registry.lifecycle import make_lifecycle
    from services.registry.mlflow_client import make_client

    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(home)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for w in workers:
            assert _pipe(w.stdout).readline().strip() == "ready"
        for lifecycle in ("aliases", "stages"):
            settings = _settings(home, lifecycle)
            client = make_client(settings)
            start = make_lifecycle(settings, client, MODEL).snapshot(["1", "2", "3"])
            for kind, jobs in (
                ("2 approvers", [("approve", "alice"), ("approve", "dave")]),
                ("4 approvers", [("approve", u) for u in ("alice", "dave", "erin", "frank")]),
                ("approve vs reject", [("approve", "alice"), ("reject", "dave")]),
            ):
                for _ in range(rounds):
                    first_id = audit.latest_id(settings)
                    at = time.time() + 1.0
                    for w, (action, user) in zip(workers, jobs):
                        _pipe(w.stdin).write(
                            json.dumps(
                                {
                                    "config": str(settings.config_path),
                                    "action": action,
                                    "user": user,
                                    "start_at": at,
                                    "jitter_ms": 20,
                                }
                            )
                            + "\n"
                        )
                        _pipe(w.stdin).flush()
                    results = [json.loads(_pipe(w.stdout).readline()) for w in workers[: len(jobs)]]
                    done = [
                        r
                        for r in audit.query(settings, model=MODEL)
                        if r["id"] > first_id and r["outcome"] == "done" and r["action"] in ("approve", "reject")
                    ]
                    counts["race rounds"] += 1
                    counts["race decisions done"] += sum(r["outcome"] == "done" for r in results)
                    counts["race decisions refused"] += sum(r["outcome"] == "refused" for r in results)
                    if len(done) > 1:
                        counts["double transitions"] += 1
                    why = _broken(settings, client)
                    if why:
                        counts["broken states"] += 1
                        print(f"  broken after {kind} ({lifecycle}): {why}")
                    _reset(settings, client, start)
    finally:
        for w in workers:
            _pipe(w.stdin).close()
            w.wait(timeout=60)


def kills(home: Path, kill_rounds: int, counts: dict) -> None:
    from services.promotion import audit
    from services.promotion.approvals import approve, recover
    from services.registry.lifecycle import make_lifecycle
    from services.registry.mlflow_client import make_client

    for lifecycle in ("aliases", "stages"):
        settings = _settings(home, lifecycle)
        client = make_client(settings)
        start = make_lifecycle(settings, client, MODEL).snapshot(["1", "2", "3"])
        for action in ("approve", "rollback"):
            plans = [("write", k) for k in range(1, 30)] + [("random", None)] * kill_rounds
            covered = False
            for mode, k in plans:
                if mode == "write" and covered:
                    continue
                if action == "rollback":
                    approve(settings, MODEL, "2", "alice", client=client)
                before = make_lifecycle(settings, client, MODEL).snapshot(["1", "2", "3"])
                hang = k if mode == "write" else 10_000
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.support.kill_worker",
                        str(home),
                        str(settings.config_path),
                        action,
                        str(hang),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                if mode == "write":
                    line = _pipe(proc.stdout).readline().strip()
                    if line != "stuck":  # the plan has fewer writes than k: every write index is covered
                        proc.wait(timeout=60)
                        _reset(settings, client, start)
                        covered = True
                        continue
                else:
                    time.sleep(random.uniform(1.0, 6.0))  # somewhere in imports, gate, plan or after
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                counts["kills at a write" if mode == "write" else "kills after a random delay"] += 1
                if audit.in_progress(settings):
                    recovered = recover(settings, client, MODEL)
                    lc = make_lifecycle(settings, client, MODEL)
                    if recovered and lc.matches(before) and not audit.in_progress(settings):
                        counts["first-try recoveries"] += 1
                    else:
                        counts["recoveries needing a second attempt"] += 1
                        print(f"  {action} killed at {mode} {k} ({lifecycle}): not recovered on the first try")
                        recover(settings, client, MODEL)
                why = _broken(settings, client)
                if why and not (action == "rollback" and why.startswith("rollback target")):
                    counts["broken states"] += 1
                    print(f"  broken after a kill of {action} at {mode} {k} ({lifecycle}): {why}")
                _reset(settings, client, start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds per race kind and lifecycle (default 3)")
    ap.add_argument("--kill-rounds", type=int, default=1, help="random-delay kills per action and lifecycle")
    ap.add_argument("--home", help="workspace folder (default: a new temporary one)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker)
    if not 1 <= args.rounds <= 50 or not 0 <= args.kill_rounds <= 20:
        ap.error("--rounds 1..50, --kill-rounds 0..20")
    from services.config import load_settings
    from services.demo import seed as demo

    home = Path(args.home or tempfile.mkdtemp(prefix="driftgate-soak-")) / "home"
    os.environ["DRIFTGATE_HOME"] = str(home)
    t0 = time.monotonic()
    demo.ensure_demo(load_settings(env={"DRIFTGATE_HOME": str(home)}))
    counts = dict.fromkeys(
        (
            "race rounds",
            "race decisions done",
            "race decisions refused",
            "double transitions",
            "broken states",
            "kills at a write",
            "kills after a random delay",
            "first-try recoveries",
            "recoveries needing a second attempt",
        ),
        0,
    )
    races(home, args.rounds, counts)
    kills(home, args.kill_rounds, counts)
    for k, v in counts.items():
        print(f"{k:>38}: {v}")
    print(f"{'seconds':>38}: {time.monotonic() - t0:.0f}")
    bad = counts["double transitions"] + counts["broken states"] + counts["recoveries needing a second attempt"]
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
