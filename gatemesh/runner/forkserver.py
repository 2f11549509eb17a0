"""A pre-imported parent that forks the Python components, so that they share one copy of
their imports instead of each paying Python's start-up and imports again.

    python -m gatemesh.runner.forkserver        (started by the runner, never by hand)

Every component is still its own OS process with its own PID, session and log, so a
`kill -9` kills exactly one instance. What changes is how it starts: the runner writes
one line of JSON (argv, env, cwd, log) to this server's stdin; the server forks, the
child sets itself up as `spawn` would have (new session, stdin /dev/null, output to its
log, the environment replaced, die-with-parent) and runs `python -m <module>` in-process
with `runpy`; the server answers the child's PID on stdout, and later one line per
child that exited, with its exit status (it is their parent, so it reaps them).

Only libraries are imported here (asyncio, uvloop, httptools, aiohttp, prometheus_client,
OpenTelemetry, gatemesh's own modules and the components' apps), never the components'
entry modules, and none of them reads the environment at import time, so nothing is
frozen with this server's environment. `gc.freeze()` before serving
keeps the collector from touching — and so copying — the shared pages in every child.

The server dies with the runner (PR_SET_PDEATHSIG) and each child with the server, so
no component outlives its owner here either.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import runpy
import select
import signal
import sys
from typing import Any

from ..topology.counts import SERVICES
from .process import PR_SET_PDEATHSIG
from .rehearsal import rehearse_tracing

COMPONENT_LIBRARIES = (
    "gateway.app",
    "mesh.sidecar.app",
    "mesh.controlplane.app",
    "mesh.controlplane.persistence",
    "services.kit",
    *(f"services.{service}.app" for service in SERVICES),
    "gatemesh.dashboard.server",
)
REHEARSE_FLAG = "--rehearse-tracing"  # the runner passes it when the components trace (forked.py)
REAP_INTERVAL_S = 0.02  # how soon an exit is reaped and reported while no request comes
# What every Python component imports anyway (the entry modules come after the fork).
PRELOAD = (
    "asyncio",
    "json",
    "logging",
    "uvloop",
    "httptools",
    "yaml",
    "aiohttp",
    "aiohttp.web",
    "prometheus_client",
    "gatemesh.runtime",
    "gatemesh.shell",
    "gatemesh.pipeline",
    "gatemesh.admin",
    "gatemesh.apimgmt",
    "gatemesh.policy",
    "gatemesh.metrics",
    "gatemesh.discovery",
    "ssl",
    "cryptography",
    "cryptography.x509",
    "jwt",
    "prometheus_client.core",
    "gatemesh.security.authz",
    "gatemesh.security.ca",
    "gatemesh.security.identity",
    "gatemesh.security.jwt",
    "gatemesh.security.mesh_tls",
    "gatemesh.security.principal",
    "gatemesh.security.tls",
    "gatemesh.tracing",
    # OpenTelemetry's SDK and exporter (the proxies, gatemesh/tracing) and its aiohttp
    # instrumentation (the apps, services/kit/telemetry.py), and the `requests` the exporter
    # posts with: imported by each component after the fork they were ~9 MiB of private
    # pages per process, edge-mesh with tracing on 745 MiB PSS instead of ~510. They read
    # their OTEL_* settings when a provider or exporter is made, not at import.
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk.resources",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.instrumentation.aiohttp_server",
    "opentelemetry.instrumentation.aiohttp_client",
    "requests",
    "gatemesh.tracing.tracer",
    "gatemesh.tracing.export",
    # The components' own libraries (not their entry modules, which run after the fork): the
    # gateway's and sidecar's handlers, the control plane, the service kit and each sample
    # service's app, the dashboard. Imported here, edge-mesh (catalog ×3, tracing off) takes
    # 355 MiB PSS instead of 371 (docs/performance.md). None of them reads the environment
    # at import (tests/unit/test_forkserver_preload.py).
    *COMPONENT_LIBRARIES,
)


def _die_with_parent() -> None:
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def _child(req: dict[str, Any], parent: int, ready: int) -> None:
    """In the forked child: become the component (never returns). `ready` is closed once
    the child leads its own session, so the runner never signals a group not yet there."""
    code = 1
    try:
        os.setsid()
        _die_with_parent()
        if os.getppid() != parent:  # the server died before prctl took effect
            os._exit(1)
        os.close(ready)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(req["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 65536)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        argv = req["argv"]  # [python, "-m", module, *args]
        sys.argv = [argv[2], *argv[3:]]
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(rehearse: bool = False) -> None:
    """Preload, then fork on each request line; one thread only (a fork from a process
    with other threads could inherit a lock one of them held)."""
    _die_with_parent()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional library: the child imports what it needs itself
    if rehearse:
        rehearse_tracing()  # rehearsal.py: the first export's side effects, made once for all
    gc.freeze()  # every object so far is shared with the children: the collector leaves it be
    me = os.getpid()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()

    def say(line: dict[str, Any]) -> None:
        os.write(stdout, (json.dumps(line) + "\n").encode())

    pending = b""
    while True:
        readable, _, _ = select.select([stdin], [], [], REAP_INTERVAL_S)
        while True:  # reap every child that has exited, and tell the runner
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            say({"exited": pid, "code": os.waitstatus_to_exitcode(status)})
        if not readable:
            continue
        chunk = os.read(stdin, 65536)
        if not chunk:  # the runner closed our stdin: it is done with us
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            req = json.loads(raw)
            wait_fd, ready_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(wait_fd)
                _child(req, me, ready_fd)
            os.close(ready_fd)
            os.read(wait_fd, 1)  # EOF once the child has its session (or died trying)
            os.close(wait_fd)
            say({"started": pid, "id": req["id"]})


if __name__ == "__main__":
    serve(rehearse=REHEARSE_FLAG in sys.argv[1:])
