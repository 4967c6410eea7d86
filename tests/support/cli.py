"""The real CLI as its own process, without paying for a new interpreter every time.

``run_cli(args, env=..., cwd=...)`` returns what ``subprocess.run([python, "-m", "services.cli",
*args], env=env, cwd=cwd, capture_output=True, text=True)`` would: a new process runs
``services.cli.main(args)`` with exactly ``env`` as its environment, ``cwd`` as its folder, its
own stdin (/dev/null), stdout and stderr descriptors, its exit handlers and its exit code.

The process is forked from a small server (``python -m tests.support.cli``, one per test
process) that imported the CLI's heavy dependencies once, from a clean environment: a new
interpreter per case spent ~4 s of CPU on imports alone, which on a loaded 2-core CI machine
became 30-60 s per case. Nothing of the test process (patches, caches, globals) reaches it.

What this cannot show, a fresh interpreter still does: tests that look at what a command or a
start-up imports (``sys.modules``) keep ``subprocess`` with ``sys.executable``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]  # as tests.support.app.ROOT, whose import loads Streamlit

# What the server imports once (what the commands import lazily in their handlers).
PRELOAD = (
    "services.cli",
    "services.config",
    "services.registry.mlflow_client",
    "services.promotion.gate",
    "services.drift.engine",
    "services.warehouse.sources",
    "services.compare.leaderboard",
    "services.drift.window_store",
    "services.drift.estimation",
    "services.registry.lifecycle",
    "services.promotion.approvals",
    "services.promotion.audit.export",
    "services.promotion.identity",
    "services.retraining.trigger",
    "services.retraining.retrain",
    "services.demo.seed",
    "services.demo.advance",
)
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")


# -- the server (its own process) ------------------------------------------------------------------
def _child(request: dict[str, Any]) -> None:
    """In the forked process: become ``python -m services.cli ARGS`` and exit with its code."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, request["out"], os.O_WRONLY),
            (2, request["err"], os.O_WRONLY),
        ):
            target = os.open(path, flags)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.argv = [str(ROOT / "services" / "cli.py"), *request["args"]]
        from services.cli import main

        try:
            code = main(request["args"])
        except SystemExit as exc:  # argparse's usage errors and --help, as in a real process
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream: nothing left to say
                stream.flush()
        os._exit(code if isinstance(code, int) else 1)


def _serve() -> None:
    """One request per line on stdin; answers ``{"pid": …}`` at once, ``{"code": …}`` at the end."""
    for name in PRELOAD:
        __import__(name)
    requests, answers = sys.stdin, sys.stdout
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


# -- the client (the test process) -----------------------------------------------------------------
_lock = threading.Lock()
_server: subprocess.Popen | None = None


def _running_server() -> subprocess.Popen:
    global _server
    if _server is None or _server.poll() is not None:
        env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
        env["OPENBLAS_NUM_THREADS"] = "1"  # a fork copies only the forking thread: start with one
        _server = subprocess.Popen(
            [sys.executable, "-m", "tests.support.cli"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        atexit.register(_server.kill)
    return _server


def _answer(stream: IO[str], timeout: float | None) -> dict[str, Any]:
    if timeout is not None and not select.select([stream], [], [], timeout)[0]:
        raise TimeoutError
    line = stream.readline()
    if not line:
        raise RuntimeError("the CLI fork server stopped (see the test's stderr)")
    return json.loads(line)


def run_cli(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | str = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``python -m services.cli *args`` in a new process with ``env`` (default: this process's
    environment) as its whole environment. ``timeout`` only guards against a hang (the bug)."""
    environment = dict(os.environ if env is None else env)
    with _lock, tempfile.TemporaryDirectory(prefix="driftgate-cli-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        out.touch()
        err.touch()
        server = _running_server()
        assert server.stdin is not None and server.stdout is not None
        request = {"args": list(args), "env": environment, "cwd": str(cwd), "out": str(out), "err": str(err)}
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        pid = _answer(server.stdout, None)["pid"]
        try:
            code = _answer(server.stdout, timeout)["code"]
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            _answer(server.stdout, None)
            raise subprocess.TimeoutExpired(["python", "-m", "services.cli", *args], timeout) from None
        stdout = out.read_text(encoding="utf-8", errors="replace")
        stderr = err.read_text(encoding="utf-8", errors="replace")
    return subprocess.CompletedProcess(["python", "-m", "services.cli", *args], code, stdout, stderr)


if __name__ == "__main__":
    _serve()
