"""``ProcessRunner``: runs a ``Topology`` as local processes (the no-Docker default).

    runner = ProcessRunner(build_topology("edge-mesh"), run_dir=Path(".gatemesh/run/x"))
    runner.start(progress=print)      # toxiproxy → proxies → control plane → apps → sidecars → gateway
    ...
    runner.kill("catalog-1"); runner.restart("catalog-1"); runner.scale("catalog", 5)
    runner.stop()

Synchronous and single-threaded by design: call it from one long-lived thread (see
``process.py`` for why). Every component's output goes to ``<log_dir>/<name>.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gatemesh import accesslog
from gatemesh.security import credentials as run_credentials
from gatemesh.security.tls import MTLS_ENV
from gatemesh.topology import Component, Topology, rescale
from gatemesh.topology.counts import check_count
from gatemesh.topology.model import CONTROLPLANE, DASHBOARD, JAEGER, PROMETHEUS, SERVICE, SIDECAR, TOXIPROXY
from gatemesh.tracing.config import ENDPOINT_ENV

from . import preflight, trust
from .errors import RunnerError
from .forked import ForkedProcess, ForkServer
from .jaeger import find_jaeger
from .process import log_tail, signal_group, spawn
from .prometheus import find_prometheus
from .toxiproxy import ToxiproxyClient
from .webclient import HttpError, is_healthy, json_request

Progress = Callable[[str], None]

FORK_ENV = "GATEMESH_FORK"
STOP_GRACE_S = 5.0  # SIGTERM → SIGKILL, for the whole topology
POLL_INTERVAL_S = 0.05  # between two rounds of health checks
HEALTH_TIMEOUT_S = 0.5  # one health request
# Kinds that need no other component up to start or to be healthy: Toxiproxy and Jaeger,
# the control plane, the apps (which import nothing of gatemesh's) and the dashboard (an
# observer that tolerates parts that are down, and whose health is its own). A group made
# only of them starts with the others of its kind, at once; the topology's groups still
# order the rest (sidecars need the control plane and their app, the gateway the control
# plane, Prometheus the proxies it scrapes), and compose's depends_on keeps every group.
INDEPENDENT = frozenset({TOXIPROXY, JAEGER, CONTROLPLANE, SERVICE, DASHBOARD})
LABELS = {
    "toxiproxy": "Toxiproxy",
    "jaeger": "Jaeger",
    "controlplane": "control plane",
    "service": "service instances",
    "sidecar": "sidecars",
    "gateway": "gateway",
    "dashboard": "dashboard",
    "prometheus": "Prometheus",
}


def start_plan(groups: list[list[Component]]) -> tuple[list[list[Component]], list[list[Component]]]:
    """(the groups that start together at once, the groups that then start in their turn)."""
    together = [g for g in groups if all(c.kind in INDEPENDENT for c in g)]
    return together, [g for g in groups if g not in together]


def _what(group: list[Component]) -> str:
    """A start group in words, for the progress lines."""
    kind = group[0].kind
    kinds = list(dict.fromkeys(c.kind for c in group))
    if len(kinds) > 1:  # a group of several kinds (the dashboard and Prometheus)
        return " and ".join(LABELS.get(k, k) for k in kinds)
    if len(group) > 1:
        return f"{len(group)} {LABELS.get(kind, kind)}"
    return group[0].name if kind in (SERVICE, SIDECAR) else LABELS.get(kind, kind)


@dataclass
class Child:
    component: Component
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen | ForkedProcess
    started_at: float = field(default_factory=time.time)
    paused: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


class ProcessRunner:
    def __init__(
        self,
        topology: Topology,
        run_dir: Path,
        log_dir: Path | None = None,
        python: str = sys.executable,
        access_log: bool = True,
        fork: bool | None = None,
    ) -> None:
        self.topology = topology
        self.run_dir = Path(run_dir).resolve()
        self.log_dir = Path(log_dir).resolve() if log_dir else self.run_dir / "logs"
        self.python = python
        self.access_log = access_log  # the proxies' JSON access logs (gatemesh logs reads them)
        self.toxiproxy_bin: str | None = None
        self.children: dict[str, Child] = {}  # by component name, in start order
        self.started: list[dict[str, Any]] = []  # every process ever started: pid, name, argv
        self.on_spawn: Callable[[dict[str, Any]], None] | None = None  # called with each started entry
        self._toxiproxy = ToxiproxyClient(topology.endpoints.toxiproxy_api)
        self._credentials: run_credentials.Credentials | None = None
        # Python components forked from one pre-imported parent (forkserver.py): shared
        # imports, no per-process interpreter start. GATEMESH_FORK=0 spawns each afresh.
        self.fork = os.environ.get(FORK_ENV, "1") != "0" if fork is None else fork
        self._forks: ForkServer | None = None

    # ------------------------------------------------------------------ start / stop

    def preflight(self) -> None:
        """Raise ``RunnerError`` if Toxiproxy is missing or a planned port is taken."""
        self.toxiproxy_bin = preflight.find_toxiproxy()
        if any(c.kind == PROMETHEUS for c in self.topology.components):
            find_prometheus()
        preflight.check_ports(self.topology)

    def start(self, progress: Progress | None = None, timeout_s: float = 60.0) -> None:
        """Start every component group by group, each healthy before the next starts (the
        leading INDEPENDENT groups together). On any failure (or interrupt) everything
        started so far is stopped again."""
        if any(c.alive() for c in self.children.values()):
            raise RunnerError("this runner's topology is already running; stop() it first")
        self.children.clear()
        say = progress or (lambda _msg: None)
        self.preflight()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._write_files()
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        # The groups made only of kinds that wait for nothing (INDEPENDENT) start at once
        # and are waited for together; each other group then starts in its turn, once the
        # groups before it are healthy.
        together, in_turn = start_plan(self.topology.groups())
        try:
            if self.fork:
                self._fork_server()  # its imports now, beside Toxiproxy's start, not after it
            if together:
                self._start_together(together, deadline, say)
            for group in in_turn:
                self._start_group(group, deadline, say)
                self._after_start(group[0].kind, say)
            self._wait_registered(self.topology.instances(), deadline, say)
        except BaseException:
            self.stop()
            raise
        say(f"all {len(self.children)} components up in {time.monotonic() - t0:.1f}s")

    def stop(self, grace_s: float = STOP_GRACE_S) -> list[str]:
        """SIGTERM everything, last group first; SIGKILL what is left after ``grace_s``.
        Idempotent. Returns the names of the components that were still running."""
        running = [c for c in self.children.values() if c.alive()]
        deadline = time.monotonic() + grace_s
        for group in sorted({c.component.group for c in running}, reverse=True):
            batch = [c for c in running if c.component.group == group]
            self._terminate(batch, deadline)
        self._kill_leftovers(running)
        if self._forks is not None:
            self._forks.stop()
            self._forks = None
        return [c.component.name for c in running]

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ process faults

    def kill(self, name: str, sig: int = signal.SIGKILL) -> dict[str, Any]:
        """Send ``sig`` to a component; for a terminating signal, wait (≤ 5 s) until it is gone."""
        child = self._child(name)
        sent = signal_group(child.popen, sig)
        if sent and sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            if child.paused and sig != signal.SIGKILL:
                signal_group(child.popen, signal.SIGCONT)
            self._wait_exit([child], time.monotonic() + STOP_GRACE_S)
            child.paused = False
        return self._describe(child)

    def pause(self, name: str) -> dict[str, Any]:
        """SIGSTOP: the process holds its sockets but answers nothing (a hung host)."""
        child = self._child(name)
        if signal_group(child.popen, signal.SIGSTOP):
            child.paused = True
        return self._describe(child)

    def resume(self, name: str) -> dict[str, Any]:
        child = self._child(name)
        if signal_group(child.popen, signal.SIGCONT):
            child.paused = False
        return self._describe(child)

    def restart(self, name: str, timeout_s: float = 30.0, progress: Progress | None = None) -> dict[str, Any]:
        """Stop a component (if it still runs) and start it again with the same command."""
        say = progress or (lambda _msg: None)
        child = self._child(name)
        if child.alive():
            self._terminate([child], time.monotonic() + STOP_GRACE_S)
            self._kill_leftovers([child])
        component = child.component
        self._start_group([component], time.monotonic() + timeout_s, say)
        self._after_start(component.kind, say)
        # An app behind a dead sidecar cannot be registered until that sidecar is
        # restarted too (it is the sidecar that registers): only wait when it can happen.
        registrar = self.children.get(f"sidecar-{component.instance}") if component.kind == SERVICE else None
        if component.kind in (SERVICE, SIDECAR) and (registrar is None or registrar.alive()):
            self._wait_registered(
                [c for c in self.topology.instances() if c.instance == component.instance],
                time.monotonic() + timeout_s,
                say,
            )
        return self._describe(self.children[name])

    # ------------------------------------------------------------------ scaling

    def scale(self, service: str, n: int, timeout_s: float = 60.0, progress: Progress | None = None) -> dict[str, Any]:
        """Run ``n`` instances of ``service``: new ones get new ports and their own
        Toxiproxy proxy; removed ones (highest numbers first) get SIGTERM so they deregister."""
        say = progress or (lambda _msg: None)
        check_count(service, n)
        old = self.topology
        new = rescale(old, {service: n})
        old_names = {c.name for c in old.components}
        new_names = {c.name for c in new.components}
        removed = [c for c in reversed(old.components) if c.name not in new_names]
        added = [c for c in new.components if c.name not in old_names]
        old_proxies = {p.name for p in old.proxies}
        new_proxies = {p.name for p in new.proxies}

        if removed:
            say(f"removing {', '.join(c.name for c in removed)}")
            deadline = time.monotonic() + STOP_GRACE_S
            for group in sorted({c.group for c in removed}, reverse=True):
                batch = [self.children[c.name] for c in removed if c.group == group and c.name in self.children]
                self._terminate(batch, deadline)
                self._kill_leftovers(batch)
            for c in removed:
                self.children.pop(c.name, None)
            for name in sorted(old_proxies - new_proxies):
                self._toxiproxy.delete(name)
            self.topology = new
            self._write_files()  # Prometheus's targets (and the dashboard's parts) without them
        if added:
            say(f"adding {', '.join(c.name for c in added if c.kind == SERVICE)}")
            probe = replace(
                new, components=tuple(added), proxies=tuple(p for p in new.proxies if p.name not in old_proxies)
            )
            preflight.check_ports(probe)
            self.topology = new
            try:
                self._toxiproxy.populate(probe.proxies)
                deadline = time.monotonic() + timeout_s
                for members in probe.groups():
                    self._start_group(members, deadline, say)
                self._write_files()  # Prometheus's targets (and the dashboard's parts) with them
                self._wait_registered([c for c in added if c.kind == SERVICE], deadline, say)
            except BaseException:
                batch = [self.children[c.name] for c in reversed(added) if c.name in self.children]
                self._terminate(batch, time.monotonic() + STOP_GRACE_S)
                self._kill_leftovers(batch)
                for c in added:
                    self.children.pop(c.name, None)
                for p in probe.proxies:
                    self._toxiproxy.delete(p.name)
                self.topology = old
                self._write_files()
                raise
        return {"service": service, "count": n, "added": [c.name for c in added], "removed": [c.name for c in removed]}

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """JSON-ready picture of the running topology."""
        t = self.topology
        return {
            "topology": t.name,
            "gateway": t.endpoints.gateway,
            "gateway_admin": t.endpoints.gateway_admin,  # its /-/* admin API (not on the public listener)
            "entry": t.endpoints.entry,
            "storefront": t.endpoints.storefront,
            "controlplane": t.endpoints.controlplane,
            "toxiproxy_api": t.endpoints.toxiproxy_api,
            "dashboard": t.endpoints.dashboard,
            "jaeger": t.endpoints.jaeger,
            "prometheus": t.endpoints.prometheus,
            "api_key": t.api_key,
            "mtls": os.environ.get(MTLS_ENV, "off"),  # what every proxy was started with (gatemesh mtls: live)
            "admin_token_file": str(self.run_dir / run_credentials.ADMIN_TOKEN_FILE),
            "counts": dict(t.counts),
            "run_dir": str(self.run_dir),
            # the pre-imported parent of the Python components (None: each was spawned afresh)
            "forkserver_pid": self._forks.proc.pid
            if self._forks is not None and self._forks.proc.poll() is None
            else None,
            "log_dir": str(self.log_dir),
            "instances": [self._describe(c) for c in self.children.values()],
        }

    def pids(self) -> list[int]:
        return [c.pid for c in self.children.values() if c.alive()]

    # ------------------------------------------------------------------ internals

    def _write_files(self) -> None:
        """The definition's files (configs, Prometheus's targets) into the run directory."""
        for name, content in self.topology.files.items():
            path = self.run_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != content:
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(content)
                os.replace(tmp, path)  # a reader (Prometheus) sees the old file or the new one

    def _child(self, name: str) -> Child:
        child = self.children.get(name)
        if child is None:
            raise RunnerError(f"no component named {name!r}; the components are: {', '.join(self.children) or 'none'}")
        return child

    def _describe(self, child: Child) -> dict[str, Any]:
        c = child.component
        return {
            "name": c.name,
            "service": c.service,
            "kind": c.kind,
            "pid": child.pid,
            "alive": child.alive(),
            "paused": child.paused,
            "address": c.address,
            "proxy": c.proxy,
            "listen": dict(c.listen),
            "health": c.health_url,
            "log": str(child.log_path),
        }

    @property
    def credentials(self) -> run_credentials.Credentials:
        if self._credentials is None:
            self._credentials = trust.credentials_of(self.run_dir)
        return self._credentials

    def admin_headers(self) -> dict[str, str]:
        return run_credentials.bearer(self.credentials.admin_token)

    def _env(self, component: Component) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        root = str(preflight.REPO_ROOT)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        env[accesslog.DIR_ENV] = str(self.log_dir)  # the proxies' <name>.access.jsonl beside their logs
        if not self.access_log:
            env[accesslog.SWITCH_ENV] = "off"
        env.update(component.env)
        trust.apply_env(env, component, self.credentials)
        return env

    def _spawn(self, component: Component) -> Child:
        if self.toxiproxy_bin is None:
            self.toxiproxy_bin = preflight.find_toxiproxy()
        argv = component.command(python=self.python, toxiproxy=self.toxiproxy_bin, run_dir=str(self.run_dir))
        if component.kind == JAEGER:
            argv[0] = find_jaeger()
        argv += trust.extra_args(component, self.topology, self.run_dir)
        log_path = self.log_dir / f"{component.name}.log"
        with open(log_path, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n".encode())
        env = self._env(component)
        popen: subprocess.Popen | ForkedProcess
        if self.fork and argv[:2] == [self.python, "-m"]:
            popen = self._fork_server().fork(argv, env, self.run_dir, log_path)
            seen_as = self._fork_server().argv  # what /proc/<pid>/cmdline shows (gatemesh down checks it)
        else:
            popen = spawn(argv, log_path, env=env, cwd=self.run_dir)
            seen_as = argv
        child = Child(component, argv, log_path, popen)
        self.children[component.name] = child
        entry = {"name": component.name, "pid": popen.pid, "argv": seen_as}
        self.started.append(entry)
        if self.on_spawn is not None:
            self.on_spawn(entry)
        return child

    def _fork_server(self) -> ForkServer:
        if self._forks is None or self._forks.proc.poll() is not None:
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            root = str(preflight.REPO_ROOT)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
            traced = any(ENDPOINT_ENV in c.env for c in self.topology.components)
            self._forks = ForkServer(
                self.python, env, self.run_dir, self.log_dir / "forkserver.log", rehearse_tracing=traced
            )
        return self._forks

    def _start_together(self, groups: list[list[Component]], deadline: float, say: Progress) -> None:
        """Start independent groups at once, wait until all are healthy, then do what
        follows each (`_after_start`) in group order."""
        what = ", ".join(_what(g) for g in groups)
        say(f"starting {what} ...")
        t0 = time.monotonic()
        self._await_healthy([self._spawn(c) for g in groups for c in g], deadline)
        say(f"{what}: healthy in {time.monotonic() - t0:.1f}s")
        for g in groups:
            self._after_start(g[0].kind, say)

    def _start_group(self, group: list[Component], deadline: float, say: Progress) -> None:
        what = _what(group)
        say(f"starting {what} ...")
        t0 = time.monotonic()
        self._await_healthy([self._spawn(c) for c in group], deadline)
        say(f"{what}: healthy in {time.monotonic() - t0:.1f}s")

    def _await_healthy(self, children: list[Child], deadline: float) -> None:
        pending = list(children)
        while pending:
            for child in list(pending):
                rc = child.popen.poll()
                if rc is not None:
                    raise RunnerError(
                        f"{child.component.name} exited with code {rc} while starting (log: {child.log_path})",
                        child.component.name,
                        log_tail(child.log_path),
                    )
                if is_healthy(child.component.health_url, HEALTH_TIMEOUT_S):
                    pending.remove(child)
            if not pending:
                break
            if time.monotonic() > deadline:
                child = pending[0]
                raise RunnerError(
                    f"{child.component.name} did not become healthy in time (no 200 from "
                    f"{child.component.health_url}; log: {child.log_path})",
                    child.component.name,
                    log_tail(child.log_path),
                )
            time.sleep(POLL_INTERVAL_S)

    def _after_start(self, kind: str, say: Progress) -> None:
        if kind == TOXIPROXY:
            self._toxiproxy.populate(self.topology.proxies)
            say(f"created {len(self.topology.proxies)} Toxiproxy proxies (one per instance)")
        elif kind == CONTROLPLANE and self.topology.apimgmt is not None:
            url = self.topology.endpoints.controlplane + "/v1/apimgmt"
            try:
                json_request("PUT", url, dict(self.topology.apimgmt), timeout_s=5.0, headers=self.admin_headers())
            except (OSError, HttpError) as e:
                raise RunnerError(f"could not configure API management at {url}: {e}", "controlplane") from e
            say("configured API management on the control plane")

    def _wait_registered(self, instances: Iterable[Component], deadline: float, say: Progress) -> None:
        """Wait until the registry lists every instance at its Toxiproxy address."""
        want = {(str(c.service), str(c.instance)): c.address for c in instances}
        if not want:
            return
        url = self.topology.endpoints.controlplane + "/v1/snapshot?wait_s=0"
        missing: set[tuple[str, str]] = set(want)
        while True:
            try:
                snap = json_request("GET", url, timeout_s=2.0) or {}
                have: dict[tuple[str, str], str | None] = {
                    (service, str(inst.get("id"))): inst.get("address")
                    for service, insts in (snap.get("services") or {}).items()
                    for inst in insts
                }
                missing = {k for k, addr in want.items() if have.get(k) != addr}
            except (OSError, HttpError, ValueError, AttributeError, TypeError):
                pass
            if not missing:
                say(f"{len(want)} instances registered with the control plane")
                return
            if time.monotonic() > deadline:
                names = ", ".join(sorted(inst for _, inst in missing))
                raise RunnerError(
                    f"these instances never showed up in the registry at their Toxiproxy address: {names} "
                    f"(check {url} and the logs in {self.log_dir})",
                    None,
                )
            time.sleep(0.1)

    def _terminate(self, children: list[Child], deadline: float) -> None:
        for child in children:
            if signal_group(child.popen, signal.SIGTERM) and child.paused:
                signal_group(child.popen, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        self._wait_exit(children, max(deadline, time.monotonic() + 0.2))

    def _wait_exit(self, children: list[Child], deadline: float) -> None:
        while any(c.alive() for c in children) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _kill_leftovers(self, children: Iterable[Child]) -> None:
        for child in children:
            if signal_group(child.popen, signal.SIGKILL):
                try:
                    child.popen.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
            child.paused = False
