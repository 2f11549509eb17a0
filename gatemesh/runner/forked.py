"""The runner's side of the fork server (forkserver.py): start it once, ask it for a
component, and hold each forked component as a `Popen`-like object, so that the runner
polls, waits for and signals it exactly as a spawned one (`signal_group` included: the
child leads its own session).

The fork server is the children's parent and reaps them; it reports each exit status on
its stdout, which `poll` reads without blocking. If the server itself is gone, so are its
children (they die with it), and `poll` says so.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import RunnerError
from .forkserver import REHEARSE_FLAG
from .process import _pdeathsig_preexec

START_TIMEOUT_S = 30.0  # the server's imports on a loaded laptop, then one fork


class ForkServer:
    def __init__(
        self, python: str, env: Mapping[str, str], cwd: Path, log_path: Path, rehearse_tracing: bool = False
    ) -> None:
        """`rehearse_tracing`: the components will trace, so the server rehearses one export
        before it forks (rehearsal.py); without tracing that would only delay the start."""
        self.argv = [python, "-m", "gatemesh.runner.forkserver", *([REHEARSE_FLAG] if rehearse_tracing else [])]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab", buffering=0) as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=dict(env),
                cwd=str(cwd),
                start_new_session=True,
                preexec_fn=_pdeathsig_preexec(),
                close_fds=True,
            )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._out, False)
        self._pending = b""
        self._started: dict[int, int] = {}  # request id → pid
        self.exited: dict[int, int] = {}  # pid → exit status
        self._next = 0

    def fork(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> ForkedProcess:
        """Start `argv` ([python, "-m", module, ...]) as a child of the server."""
        self._next += 1
        req = {"id": self._next, "argv": list(argv), "env": dict(env), "cwd": str(cwd), "log": str(log_path)}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as exc:
            raise RunnerError(f"the fork server is gone ({exc}); see its log", None) from exc
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._next not in self._started:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RunnerError("the fork server did not start the component; see its log", None)
            select.select([self._out], [], [], 0.05)
            self.drain()
        return ForkedProcess(self, self._started.pop(self._next))

    def drain(self) -> None:
        """Read what the server has said so far (never blocks)."""
        try:
            while chunk := os.read(self._out, 65536):
                self._pending += chunk
        except BlockingIOError:
            pass
        except OSError:
            return
        *lines, self._pending = self._pending.split(b"\n")
        for raw in lines:
            msg: dict[str, Any] = json.loads(raw)
            if "started" in msg:
                self._started[msg["id"]] = msg["started"]
            elif "exited" in msg:
                self.exited[msg["exited"]] = msg["code"]

    def stop(self, timeout_s: float = 2.0) -> None:
        """Close its stdin (it exits), SIGKILL after `timeout_s`; call once the children are stopped."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout_s)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout_s)


class ForkedProcess:
    """The parts of `subprocess.Popen` the runner uses, for a child of the fork server."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.server.drain()
            code = self.server.exited.pop(self.pid, None)
            if code is None and self.server.proc.poll() is not None:
                code = -signal.SIGKILL  # the server died, and its children with it
            self.returncode = code
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.01)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
