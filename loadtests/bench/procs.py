"""The benchmark's own processes: started pinned to a CPU, stopped by PID, measured
through /proc (CPU time, RSS, PSS).

Every process is started by `spawn` (a new session, and killed with its parent, see
gatemesh.runner.process) and stopped by its own PID; nothing is ever stopped by name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gatemesh.runner.process import spawn

CLK_TCK = os.sysconf("SC_CLK_TCK")
STOP_GRACE_S = 5.0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (nginx's workers under its master)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    return sum(cpu_seconds(p) for pid in pids for p in descendants(pid))


def pin(pids: list[int], cpu: str) -> None:
    """Move every thread of these process trees to one CPU (what `taskset -a -p` does)."""
    for p in (d for pid in pids for d in descendants(pid)):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{p}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, {int(cpu)})
            except OSError:  # the thread ended meanwhile
                pass


def memory_kib(pid: int, tree: bool = True) -> dict[str, int]:
    """RSS and PSS of one process tree (or, `tree=False`, the process alone), in KiB (PSS
    splits shared pages fairly, so PSS values of several processes add up; RSS values
    count shared libraries each time)."""
    rss = pss = 0
    for p in descendants(pid) if tree else [pid]:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return {"rss_kib": rss, "pss_kib": pss}


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_http(
    url: str, timeout_s: float, headers: dict[str, str] | None = None, proc: Proc | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Poll `url` until it answers 200; returns (status, headers, body) or raises RuntimeError."""
    end = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < end:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {proc.log_tail()}")
        try:
            req = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code} {exc.headers.get('x-gatemesh-reason', '')}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:g} s (last: {last})")


@dataclass
class Proc:
    name: str
    argv: list[str]
    cpus: str  # taskset list, e.g. "1"
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> Proc:
        self.popen = spawn(["taskset", "-c", self.cpus, *self.argv], self.log, env=self.env, cwd=self.cwd)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to this PID, SIGKILL after a grace period; never anything but our own child."""
        p = self.popen
        if p is None or p.poll() is not None:
            return
        below = descendants(p.pid)[1:]  # nginx workers: ours too, by PID
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(STOP_GRACE_S)
            for pid in below:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
