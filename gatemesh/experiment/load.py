"""Locust, run headless as its own process (gevent must patch the standard library before
anything imports ssl or aiohttp, so gatemesh never imports locust), and a reader that
follows its request log while it runs."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gatemesh.runner.preflight import REPO_ROOT

LOCUSTFILE = REPO_ROOT / "loadtests" / "pages.py"
REQUEST_TIMEOUT_S = 3.0  # the experiments' client gives up after this (a failed page)
STOP_GRACE_S = 10.0  # after SIGTERM, how long Locust may take to write its CSVs
OUTER_BOUND_S = 30.0  # Locust's own -t: the run time plus this (the experiment stops it sooner)


@dataclass(frozen=True)
class LoadSpec:
    duration_s: float
    users: int
    arrival_rate: float = 0.0  # > 0: open loop at this many requests per second
    locustfile: Path = LOCUSTFILE
    request_timeout_s: float = REQUEST_TIMEOUT_S

    @property
    def model(self) -> str:
        return "open" if self.arrival_rate > 0 else "closed"

    def describe(self) -> str:
        if self.arrival_rate > 0:
            return (
                f"open loop: {self.arrival_rate:g} requests/s arriving whatever the answers "
                f"({self.users} Locust users), client timeout {self.request_timeout_s:g} s"
            )
        return (
            f"closed loop: {self.users} Locust users, each waiting 0.1-0.3 s between answer and next "
            f"request, client timeout {self.request_timeout_s:g} s"
        )

    def max_requests(self) -> int:
        """The count bound: far above what the run can send, far below unbounded."""
        per_s = self.arrival_rate * 1.5 if self.arrival_rate > 0 else self.users * 50
        return int(per_s * self.duration_s) + 1000


class LocustRun:
    """One headless Locust process writing into ``out_dir``. The experiment stops it (SIGTERM:
    Locust writes its CSVs and exits) once the run time has passed since the first request;
    Locust's own ``-t`` is only the outer bound."""

    def __init__(self, spec: LoadSpec, host: str, api_key: str, out_dir: Path) -> None:
        self.spec = spec
        self.out_dir = out_dir
        self.request_log = out_dir / "requests.csv"
        self.log_path = out_dir / "locust.log"
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(spec.locustfile),
            "--headless",
            "--host",
            host,
            "-u",
            str(spec.users),
            "-r",
            str(spec.users),
            "-t",
            f"{spec.duration_s + OUTER_BOUND_S:g}s",
            "--stop-timeout",
            "1",
            "--csv",
            str(out_dir / "locust"),
            "--csv-full-history",
            "--only-summary",
            "--request-log",
            str(self.request_log),
            "--request-timeout",
            f"{spec.request_timeout_s:g}",
            "--max-requests",
            str(spec.max_requests()),
            "--api-key",
            api_key,
            "--loglevel",
            "WARNING",
        ]
        if spec.arrival_rate > 0:
            argv += ["--arrival-rate", f"{spec.arrival_rate:g}"]
        self.argv = argv
        self.popen: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in [self.request_log, *self.out_dir.glob("locust_*.csv")]:
            stale.unlink(missing_ok=True)  # a reader must never mistake an old run for this one
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.popen = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.out_dir),
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> int | None:
        """SIGTERM (Locust shuts down cleanly), SIGKILL after ``STOP_GRACE_S``; ours, by pid."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen is not None else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
        return self.popen.returncode

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class LogFollower:
    """Reads the rows Locust has appended to its request log since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pos = 0
        self._partial = ""
        self._header: list[str] | None = None

    def new_rows(self) -> list[dict]:
        try:
            with open(self.path, newline="") as f:
                f.seek(self._pos)
                chunk = f.read()
                self._pos = f.tell()
        except FileNotFoundError:
            return []
        text = self._partial + chunk
        if not text.endswith("\n"):
            text, _, self._partial = text.rpartition("\n")
            text += "\n" if text else ""
        else:
            self._partial = ""
        rows = list(csv.reader(io.StringIO(text)))
        if self._header is None and rows:
            self._header, rows = rows[0], rows[1:]
        return [dict(zip(self._header or [], r, strict=False)) for r in rows if r]


def wait_for_first_request(follower: LogFollower, run: LocustRun, timeout_s: float) -> tuple[float, list[dict]]:
    """(wall time of the first request's start, rows read so far) once Locust is sending."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        rows = follower.new_rows()
        if rows:
            return min(float(r["start"]) for r in rows), rows
        if not run.running():
            break
        time.sleep(0.05)
    raise RuntimeError(f"Locust sent no request within {timeout_s:.0f} s; its log ends:\n{run.log_tail()}")
