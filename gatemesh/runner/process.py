"""Spawning and signalling child processes, so that none can outlive its owner.

Every child is started in its own session (its own process group, so a signal reaches
anything it spawned, and a terminal's Ctrl-C does not hit it behind the owner's back)
and, on Linux, with ``PR_SET_PDEATHSIG = SIGKILL``: the kernel kills the child when the
thread that started it dies, even if that thread's process was SIGKILLed. Start children
from one long-lived thread (the main thread); a child started from a short-lived worker
thread would die with that thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: keep it tiny
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the owner died before prctl took effect
            os._exit(1)

    return preexec


def spawn(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = True,
) -> subprocess.Popen:
    """Start ``argv`` with stdout+stderr appended to ``log_path`` and stdin closed."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab", buffering=0) as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            preexec_fn=_pdeathsig_preexec() if die_with_parent else None,
            close_fds=True,
        )


class Signallable(Protocol):
    """A started child: `subprocess.Popen`, or a fork server's child (forked.py)."""

    pid: int

    def poll(self) -> int | None: ...


def signal_group(proc: Signallable, sig: int) -> bool:
    """Send ``sig`` to the child's process group; False if it has already exited.

    Safe against pid reuse: a child that ``poll()`` has reaped is never signalled."""
    if proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return False
    return True


def cmdline(pid: int) -> list[str] | None:
    """The command line of a running ``pid``, or None if it is gone or unknowable."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.exists():
        try:
            raw = proc.read_bytes()
        except OSError:
            return None
        if not raw:
            return None  # a zombie
        return raw.rstrip(b"\0").decode(errors="replace").split("\0")
    try:
        import psutil  # optional: macOS and friends

        return psutil.Process(pid).cmdline()
    except Exception:
        return None


def is_ours(pid: int, argv: Sequence[str]) -> bool:
    """True if ``pid`` is alive and still runs exactly ``argv`` (so the pid was not reused)."""
    return cmdline(pid) == list(argv)


def kill_if_ours(pid: int, argv: Sequence[str], sig: int = signal.SIGKILL) -> bool:
    if not is_ours(pid, argv):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
