"""Start a topology as local processes: Toxiproxy, the control plane, every service
instance (and its sidecar), the gateway. A supervisor process owns them; this command
shows its progress, then the endpoints. Without --detach it stays in the foreground and
Ctrl-C (or SIGTERM) stops everything; with --detach, stop it with `gatemesh down`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from gatemesh.runner import check_ports, find_toxiproxy
from gatemesh.runner.jaeger import find_jaeger
from gatemesh.runner.preflight import REPO_ROOT
from gatemesh.runner.process import log_tail, spawn
from gatemesh.runner.prometheus import find_prometheus
from gatemesh.runner.state import SPEC_FILE, STATE_FILE, SUPERVISOR_LOG, read_state, write_json
from gatemesh.security.tls import MODES, MTLS_ENV
from gatemesh.topology import DEFAULT_TOPOLOGY, TOPOLOGIES, PortPlan, build_topology, parse_scale

from . import _show
from ._common import CliError, add_name_argument, load, name_hint, supervisor_alive, tear_down
from ._show import command_name

HELP = "start a topology (default edge-mesh) as local processes"
ORDER = 10
FOLLOW_MARGIN_S = 30.0  # beyond --timeout: the supervisor's own stop after a failed start


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--topology",
        "-t",
        default=DEFAULT_TOPOLOGY,
        metavar="NAME",
        help=f"one of: {', '.join(TOPOLOGIES)} (default {DEFAULT_TOPOLOGY})",
    )
    p.add_argument(
        "--detach", "-d", action="store_true", help="return once everything is up; stop with `gatemesh down`"
    )
    p.add_argument(
        "--port-base",
        type=int,
        metavar="N",
        help="put every port in N..N+999 (gateway N+80, control plane N+500, Toxiproxy N+474); "
        "default: gateway 8080, control plane 8500, Toxiproxy 8474, instances from 18000",
    )
    p.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="instances of a service, repeatable (default catalog=3, the others 2)",
    )
    p.add_argument(
        "--prometheus",
        action="store_true",
        help="also run Prometheus (Debian's, installed by scripts/setup.sh), scraping every proxy; "
        "its UI on 127.0.0.1 (port 9090, or N+95 with --port-base)",
    )
    p.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="the proxies write no access logs (gatemesh logs reads them; on by default)",
    )
    p.add_argument(
        "--mtls",
        choices=MODES,
        default=os.environ.get(MTLS_ENV, "off"),
        help="mutual TLS between the proxies: permissive (TLS and plain on a sidecar's port), strict (TLS only), "
        "or off (the default); switch live with 'gatemesh mtls' (docs/security.md)",
    )
    p.add_argument(
        "--timeout", type=float, default=90.0, metavar="SECONDS", help="how long to wait for health (default 90)"
    )
    p.add_argument(
        "--no-jaeger",
        dest="jaeger",
        action="store_false",
        help="run without Jaeger (no trace backend, the proxies and apps trace nothing)",
    )
    p.add_argument(
        "--trace-ratio",
        type=float,
        default=1.0,
        metavar="R",
        help="share of new traces sampled, 0..1 (default 1: every call; change it live with gatemesh trace --ratio)",
    )
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    counts = parse_scale(args.scale)
    ports = PortPlan.from_base(args.port_base) if args.port_base is not None else PortPlan()
    topology = build_topology(
        args.topology,
        ports,
        counts,
        prometheus=args.prometheus,
        jaeger=args.jaeger,
        trace_ratio=args.trace_ratio,
    )
    directory, state = load(args.name)
    if state is not None and supervisor_alive(state):
        raise CliError(
            f"a topology named {args.name!r} ({state.get('topology')}) is already running; stop it with "
            f"'gatemesh down{name_hint(args.name)}', or start another with --name NAME --port-base N"
        )
    if state is not None:  # a stale run: its supervisor died; make sure nothing of it is left
        tear_down(directory, state, lambda _m: None)
    find_toxiproxy()
    if args.jaeger:
        find_jaeger()
    if args.prometheus:
        find_prometheus()
    check_ports(topology)

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    write_json(
        directory / SPEC_FILE,
        {
            "name": args.name,
            "topology": topology.name,
            "port_base": args.port_base,
            "counts": dict(topology.counts),
            "timeout_s": args.timeout,
            "jaeger": args.jaeger,
            "trace_ratio": args.trace_ratio,
            "prometheus": args.prometheus,
            "access_log": args.access_log,
            "mtls": args.mtls,
        },
    )
    env = dict(os.environ)
    env[MTLS_ENV] = args.mtls  # every proxy the supervisor starts (and restarts) reads it
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    supervisor = spawn(
        [sys.executable, "-m", "gatemesh.runner.supervisor", "--run-dir", str(directory)],
        directory / SUPERVISOR_LOG,
        env=env,
        cwd=directory,
        die_with_parent=False,
    )
    _announce(directory / STATE_FILE, args, supervisor)
    print(
        f"gatemesh: starting {topology.name} as {args.name!r}: "
        f"{len(topology.components)} processes (logs in {directory / 'logs'})",
        flush=True,
    )

    _stop_on_signals()
    try:
        state = _follow(supervisor, directory, args.timeout + FOLLOW_MARGIN_S)
    except KeyboardInterrupt:
        print("\ngatemesh: interrupted; stopping what was started ...", flush=True)
        tear_down(directory, _state_or(directory, supervisor), _say)
        return 130
    if state.get("status") != "running":
        return _failed(supervisor, directory, state)

    status = state.get("runner") or {}
    took = state["progress"][-1]["t"] if state.get("progress") else 0
    print(
        f"\ngatemesh: {topology.name} is up in {took:.1f}s "
        f"({len(status.get('instances', []))} processes, supervisor pid {supervisor.pid})"
    )
    print("\n".join(_show.endpoints(status)))
    print("\nTry:")
    print("\n".join(_show.examples(status, args.name)))
    if args.detach:
        print(f"\nRunning in the background; stop it with: {command_name()} down{name_hint(args.name)}")
        return 0

    print("\nRunning in the foreground; Ctrl-C stops everything.", flush=True)
    try:
        supervisor.wait()
    except KeyboardInterrupt:
        print("\ngatemesh: stopping ...", flush=True)
        done = tear_down(directory, _state_or(directory, supervisor), _say)
        print(f"gatemesh: stopped {len(done['components'])} components")
        return 0
    after = read_state(directory)
    if supervisor.returncode == 0 and (after is None or after.get("status") == "stopped"):
        # `gatemesh down` (or a signal) from elsewhere asked it to stop: not a failure
        print(f"gatemesh: stopped from another terminal ({command_name()} down{name_hint(args.name)})")
        tear_down(directory, _state_or(directory, supervisor), _say)
        return 0
    print(
        f"gatemesh: the supervisor exited by itself (code {supervisor.returncode}); see {directory / SUPERVISOR_LOG}",
        file=sys.stderr,
    )
    tear_down(directory, _state_or(directory, supervisor), _say)
    return 1


def _announce(path: Path, args: argparse.Namespace, supervisor: Any) -> None:
    """A first state.json, so `gatemesh down` finds the supervisor even before it has
    written its own (O_EXCL: never overwrite the supervisor's)."""
    state = {
        "name": args.name,
        "topology": args.topology,
        "status": "launching",
        "pid": supervisor.pid,
        "argv": list(supervisor.args),
        "progress": [],
        "pids": [],
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)


def _state_or(directory: Path, supervisor: Any) -> dict[str, Any]:
    """The run's state, or enough of it to stop the supervisor we just spawned."""
    state = read_state(directory) or {}
    state.setdefault("pid", supervisor.pid)
    state.setdefault("argv", list(supervisor.args))
    return state


def _say(message: str) -> None:
    print(f"gatemesh: {message}", flush=True)


def _stop_on_signals() -> None:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP all stop the run the same way. SIGINT is set
    too, not left to Python: a process started from a shell's background job (`cmd &` in
    a script, as a CI runner may) inherits SIGINT ignored, and Python then never turns it
    into KeyboardInterrupt, so `kill -INT` would be silently dropped."""

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def _follow(supervisor: Any, directory: Path, timeout_s: float) -> dict[str, Any]:
    """Print the supervisor's progress until it is running, failed, or gone."""
    shown = 0
    deadline = time.monotonic() + timeout_s
    while True:
        state = read_state(directory) or {}
        progress = state.get("progress") or []
        for item in progress[shown:]:
            print(f"  [{item['t']:5.1f}s] {item['message']}", flush=True)
        shown = len(progress)
        if state.get("status") in ("running", "failed", "stopped"):
            return state
        if supervisor.poll() is not None:
            return read_state(directory) or {"status": "failed", "error": None}
        if time.monotonic() > deadline:
            tear_down(directory, _state_or(directory, supervisor), _say)
            raise CliError(f"the topology did not come up within {timeout_s:.0f}s; see the logs in {directory}")
        time.sleep(0.1)


def _failed(supervisor: Any, directory: Path, state: dict[str, Any]) -> int:
    try:
        supervisor.wait(timeout=15)
    except Exception:
        pass
    error = state.get("error") or (f"the supervisor exited with code {supervisor.poll()} before the topology was up")
    tail = state.get("log_tail") or (log_tail(directory / SUPERVISOR_LOG, 10) if not state.get("error") else "")
    tear_down(directory, _state_or(directory, supervisor), lambda _m: None)
    print(f"gatemesh: error: {error}", file=sys.stderr)
    if tail:
        print("\n".join("    | " + line for line in tail.splitlines()), file=sys.stderr)
    return 1
