"""The fork server (gatemesh/runner/forkserver.py) with real processes: each component it
forks is its own process and session with its own environment and log, a `kill -9`
kills exactly that one (and its exit status reaches the runner), and stopping the
server leaves nothing behind."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from gatemesh.runner.forked import ForkServer
from gatemesh.runner.preflight import REPO_ROOT

pytestmark = [pytest.mark.integration]


KID = """import os, sys, time
print("I am", os.environ["FORKED_MARK"], "argv", sys.argv[1:], flush=True)
time.sleep(600)
"""


def _server(tmp_path: Path) -> ForkServer:
    (tmp_path / "kid.py").write_text(KID)  # importable: the server's cwd is on its sys.path
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO_ROOT))
    return ForkServer(sys.executable, env, tmp_path, tmp_path / "forkserver.log")


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""  # the child opens its log after the fork


def _until(what, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_each_fork_is_one_process_and_kill_9_kills_exactly_that_one(tmp_path):
    server = _server(tmp_path)
    try:
        kids = []
        for i in (1, 2):
            env = dict(os.environ, PYTHONUNBUFFERED="1", FORKED_MARK=f"kid-{i}")
            argv = [sys.executable, "-m", "kid", f"--n={i}"]
            kids.append(server.fork(argv, env, tmp_path, tmp_path / f"kid-{i}.log"))
        a, b = kids
        assert len({a.pid, b.pid, server.proc.pid}) == 3
        for i, kid in enumerate(kids, 1):
            assert kid.poll() is None
            assert os.getsid(kid.pid) == kid.pid  # its own session: signal_group reaches it alone
            # its own environment and argv, and its output in its own log
            _until(lambda i=i: f"I am kid-{i} argv ['--n={i}']".encode() in _read(tmp_path / f"kid-{i}.log"))
        os.kill(a.pid, signal.SIGKILL)
        assert a.wait(5) == -signal.SIGKILL
        assert b.poll() is None and server.proc.poll() is None  # the other one and the server live on
        b.terminate()
        assert b.wait(5) == -signal.SIGTERM
    finally:
        server.stop()
    assert server.proc.poll() is not None


def test_a_component_that_exits_reports_its_status(tmp_path):
    server = _server(tmp_path)
    try:
        bad = server.fork(
            [sys.executable, "-m", "json.tool", str(tmp_path / "missing.json")],
            dict(os.environ),
            tmp_path,
            tmp_path / "bad.log",
        )
        assert bad.wait(10) != 0
        assert b"missing.json" in (tmp_path / "bad.log").read_bytes()  # its error went to its own log
    finally:
        server.stop()
