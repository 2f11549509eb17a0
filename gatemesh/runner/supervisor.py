"""The supervisor: a detached process that owns one running topology for the CLI.

    python -m gatemesh.runner.supervisor --run-dir .gatemesh/run/<name>

It reads ``spec.json`` from the run directory, starts the topology with a
``ProcessRunner``, keeps ``state.json`` current (status, progress, endpoints, pids) and
serves the control API described in ``control.py`` on a loopback port. SIGTERM, SIGINT
or ``POST /stop`` stop everything; the children die with the supervisor even if it is
SIGKILLed (see ``process.py``).

Jobs (kill, pause, resume, restart, scale) run on a few long-lived worker threads, never
on the HTTP threads: a child started from a short-lived thread would die with that thread
(see ``process.py``), and these live as long as the supervisor. Jobs that touch different
components run at once, so a restart never queues behind a job that is *waiting on* the
component it restarts (issue 12: with the control plane down, ``scale catalog 4`` waited
for it to come back, and the ``restart controlplane`` asked for meanwhile waited 41 s
behind the scale). Jobs that touch a component in common run one after the other, in the
order they were asked for (``jobs.Dispatcher``).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from gatemesh.topology import PortPlan, TopologyError, build_topology

from .control import TOKEN_HEADER
from .errors import RunnerError
from .jobs import Dispatcher, Done, Job, Worker
from .process import cmdline
from .process_runner import ProcessRunner
from .state import SPEC_FILE, STATE_FILE, read_json, write_json

JOB_TIMEOUT_S = 180.0  # an HTTP caller waits at most this long for its job
ACTIONS = ("kill", "pause", "resume", "restart")
WORKERS_ENV = "GATEMESH_SUPERVISOR_WORKERS"  # 1 = the old one-job-at-a-time supervisor (a control arm)
DEFAULT_WORKERS = 4  # jobs at once: a scale, a restart and a fault or two; more would only race for the CPU


class _Stop(BaseException):
    """Raised from the signal handler to abort a start in progress."""


_STOP = object()


class Supervisor:
    def __init__(self, run_dir: Path, spec: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.spec = spec
        self.jobs: queue.Queue = queue.Queue()
        self.token = secrets.token_hex(16)
        self.phase = "starting"
        self.runner: ProcessRunner | None = None
        self.started_at = time.time()
        self.state: dict[str, Any] = {
            "name": spec.get("name"),
            "topology": spec.get("topology"),
            "status": "starting",
            "pid": os.getpid(),
            "argv": cmdline(os.getpid()) or sys.argv,
            "started_at": self.started_at,
            "control_url": None,
            "token": self.token,
            "progress": [],
            "error": None,
            "log_tail": "",
            "pids": [],
            "runner": None,
        }
        self._lock = threading.Lock()

    # -------------------------------------------------------------- state

    def save(self, **changes: Any) -> None:
        with self._lock:
            self.state.update(changes)
            if self.runner is not None:
                self.state["pids"] = list(self.runner.started)
                self.state["runner"] = self._runner_status()
            write_json(self.run_dir / STATE_FILE, self.state)

    def progress(self, message: str) -> None:
        self.state["progress"].append({"t": round(time.time() - self.started_at, 2), "message": message})
        self.save()

    def _runner_status(self) -> dict[str, Any] | None:
        if self.runner is None:
            return None
        for _ in range(3):  # the main thread may be changing the children right now
            try:
                return self.runner.status()
            except RuntimeError:
                time.sleep(0.01)
        return self.state.get("runner")

    # -------------------------------------------------------------- main

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        try:
            ports = PortPlan.from_base(self.spec["port_base"]) if self.spec.get("port_base") is not None else PortPlan()
            topology = build_topology(
                self.spec["topology"],
                ports,
                self.spec.get("counts") or {},
                jaeger=bool(self.spec.get("jaeger")),
                trace_ratio=self.spec.get("trace_ratio", 1.0),
                prometheus=bool(self.spec.get("prometheus", False)),
            )
        except TopologyError as e:
            self.save(status="failed", error=str(e))
            return 2
        self.runner = ProcessRunner(
            topology, self.run_dir, self.run_dir / "logs", access_log=bool(self.spec.get("access_log", True))
        )
        self.runner.on_spawn = lambda _entry: self.save()
        server = self._serve()
        self.save(control_url=f"http://127.0.0.1:{server.server_address[1]}")
        try:
            try:
                self.runner.start(progress=self.progress, timeout_s=float(self.spec.get("timeout_s", 90)))
            except RunnerError as e:
                self.save(status="failed", error=str(e), log_tail=e.log_tail, component=e.component)
                return 1
            except _Stop:
                self.save(
                    status="stopped", error="the topology was stopped while starting (by gatemesh down or a signal)"
                )
                return 0
            self.phase = "running"
            self.save(status="running")
            self._loop()
            return 0
        finally:
            self.phase = "stopping"
            if self.state["status"] not in ("failed",):
                self.save(status="stopping")
            stopped = self.runner.stop()
            final = "failed" if self.state["status"] == "failed" else "stopped"
            self.save(status=final, stopped=stopped, stopped_at=time.time())
            server.shutdown()

    def _loop(self) -> None:
        dispatcher = Dispatcher([Worker(n, self.jobs, self.save) for n in range(self._workers())])
        last_refresh = time.monotonic()
        while True:
            try:
                item = self.jobs.get(timeout=1.0)
            except queue.Empty:
                item = None
            if item is _STOP:
                return  # running jobs are cut short by runner.stop(); pending ones never start
            if isinstance(item, Job):
                dispatcher.add(item)
            elif isinstance(item, Done):
                dispatcher.finished(item)
                last_refresh = time.monotonic()
            elif time.monotonic() - last_refresh > 2.0:
                self.save()  # crashed components show up as alive: false
                last_refresh = time.monotonic()

    @staticmethod
    def _workers() -> int:
        text = os.environ.get(WORKERS_ENV, "")
        return int(text) if text.isdigit() and 1 <= int(text) <= 16 else DEFAULT_WORKERS

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self.phase == "starting":
            self.phase = "stopping"
            raise _Stop()
        if self.phase == "running":
            self.phase = "stopping"
            self.jobs.put(_STOP)

    # -------------------------------------------------------------- control API

    def submit(self, fn: Callable[[], Any], keys: frozenset[str], what: str = "") -> Any:
        if self.phase != "running":
            raise RunnerError(f"the topology is {self.phase}; try again when it is running")
        job = Job(fn, keys, what)
        self.jobs.put(job)
        if not job.done.wait(JOB_TIMEOUT_S):
            raise RunnerError("the supervisor did not finish the request in time")
        if job.error is not None:
            raise job.error
        return job.result

    def status(self) -> dict[str, Any]:
        runner = self._runner_status() or {}
        return {
            "name": self.state["name"],
            "running": self.phase in ("starting", "running"),
            "status": self.state["status"],
            "supervisor_pid": os.getpid(),
            "started_at": self.started_at,
            **runner,
        }

    def _serve(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="control-api", daemon=True).start()
        return server


def _handler(sup: Supervisor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gatemesh-supervisor"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            if not length:
                return {}
            data = json.loads(self.rfile.read(min(length, 65536)))
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            return data

        def _authorized(self) -> bool:
            if secrets.compare_digest(self.headers.get(TOKEN_HEADER, ""), sup.token):
                return True
            self._reply(403, {"error": f"missing or wrong {TOKEN_HEADER} (see state.json)"})
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path == "/status":
                self._reply(200, sup.status())
            else:
                self._reply(404, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:
            if not self._authorized():
                return
            try:
                body = self._body()
                parts = [p for p in self.path.split("/") if p]
                if parts == ["stop"]:
                    if sup.phase == "running":
                        sup.phase = "stopping"
                        sup.jobs.put(_STOP)
                    elif sup.phase == "starting":
                        os.kill(os.getpid(), signal.SIGTERM)
                    self._reply(202, {"status": "stopping"})
                elif len(parts) == 3 and parts[0] == "components" and parts[2] in ACTIONS:
                    job = _component_job(sup, parts[1], parts[2], body)
                    self._reply(200, sup.submit(job, frozenset({parts[1]}), f"{parts[2]} {parts[1]}"))
                elif parts == ["scale"]:
                    # unchecked on purpose: runner.scale validates both and answers a sentence
                    service, count = cast(str, body.get("service")), cast(int, body.get("count"))
                    runner = sup.runner
                    assert runner is not None
                    # A scale touches the service's instances and sidecars (it may remove
                    # some), not the control plane it waits on.
                    keys = frozenset(
                        {f"scale:{service}", *(c.name for c in runner.topology.components if c.service == service)}
                    )
                    self._reply(200, sup.submit(lambda: runner.scale(service, count), keys, f"scale {service}"))
                else:
                    self._reply(404, {"error": f"no such path {self.path}"})
            except (RunnerError, TopologyError, ValueError, KeyError) as e:
                self._reply(400, {"error": str(e).strip("'\"")})
            except Exception as e:  # keep the API answering; the details go to supervisor.log
                print(f"control API: {self.path}: {e!r}", file=sys.stderr, flush=True)
                self._reply(500, {"error": f"{type(e).__name__}: {e}"})

    return Handler


def _component_job(sup: Supervisor, name: str, action: str, body: dict[str, Any]) -> Callable[[], Any]:
    runner = sup.runner
    assert runner is not None
    if action == "kill":
        sig_name = str(body.get("signal") or "SIGKILL").upper()
        if not sig_name.startswith("SIG"):
            sig_name = "SIG" + sig_name
        try:
            sig = signal.Signals[sig_name]
        except KeyError:
            raise ValueError(f"unknown signal {body.get('signal')!r}; use e.g. SIGKILL or SIGTERM") from None
        return lambda: runner.kill(name, sig)
    return lambda: getattr(runner, action)(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gatemesh-supervisor", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    spec = read_json(run_dir / SPEC_FILE)
    if spec is None:
        print(f"gatemesh-supervisor: error: no readable {SPEC_FILE} in {run_dir}", file=sys.stderr)
        return 2
    return Supervisor(run_dir, spec).run()


if __name__ == "__main__":
    sys.exit(main())
