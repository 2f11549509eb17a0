"""``Lab``: the running edge+mesh topology an experiment drives.

It knows where everything answers (from the runner's status, the same shape for an
in-process ``ProcessRunner`` and a ``gatemesh up`` supervisor) and does the few things an
experiment needs besides load and faults: set a policy at the edge or in the mesh (and
wait until the sidecars have it), scrape the proxies' metrics and events, read the
instances' request counts, scale a service.

    with Lab.start(out_dir, port_base=None) as lab:     # its own topology, stopped after
        ...
    lab = Lab.attach("demo")                            # a `gatemesh up --name demo` run

Faults go through ``lab.faults`` (``gatemesh.faults.Faults``); process faults and scaling
must be called from the thread that created the lab (see ``gatemesh.runner.process``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gatemesh.faults import Faults
from gatemesh.policy import Policy
from gatemesh.policy_client import PolicyClient, PolicyClientError
from gatemesh.runner import ProcessRunner, RunnerError
from gatemesh.runner import portlock as ports
from gatemesh.runner.webclient import HttpError, json_request, request
from gatemesh.security.credentials import admin_token, bearer
from gatemesh.topology import SERVICES, PortPlan, build_topology

from .prom import Samples, parse

TOPOLOGY = "edge-mesh"  # the layout with both places a pattern can sit
RATE_PER_S = 100_000.0  # an owned topology's API rate limit: out of the experiments' way
COUNTS = {"inventory": 1, "orders": 1}  # an owned topology: pages need one inventory, nobody orders
ADMIN_TIMEOUT_S = 5.0
POLICY_PUSH_TIMEOUT_S = 10.0  # the sidecars learn a mesh policy within ~1 s; this is the bound
LOCATIONS = ("edge", "mesh")


class LabError(RuntimeError):
    """The topology cannot be used for an experiment; the message says why."""


class Lab:
    def __init__(
        self,
        status_fn: Callable[[], dict],
        faults: Faults,
        scale_fn: Callable[[str, int], Any],
        cleanup: Callable[[], None] | None = None,
        owned: bool = False,
    ) -> None:
        self._status_fn = status_fn
        self._scale_fn = scale_fn
        self._cleanup = cleanup
        self.faults = faults
        self.owned = owned
        self.runner: ProcessRunner | None = None  # an owned topology's runner
        self.port_base: int | None = None
        self.status: dict = {}
        self.refresh()
        if not self.status.get("gateway"):
            raise LabError(
                f"experiments need the {TOPOLOGY} topology (a gateway and sidecars); "
                f"this one is {self.status.get('topology')!r}"
            )
        if not any(i.get("kind") == "sidecar" for i in self.status.get("instances", [])):
            raise LabError(
                f"experiments need the {TOPOLOGY} topology (a gateway and sidecars); this one has no sidecars"
            )

    # --------------------------------------------------------------- getting one

    @classmethod
    def start(
        cls,
        port_base: int | None = None,
        progress: Callable[[str], None] | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> Lab:
        """Start an own edge+mesh topology on a locked port base; ``close()`` stops it."""
        lock = ports.acquire(port_base)
        run_dir = Path(tempfile.mkdtemp(prefix="gatemesh-experiment-"))
        topology = build_topology(
            TOPOLOGY,
            PortPlan.from_base(lock.base),
            {**COUNTS, **(counts or {})},
            rate_per_s=RATE_PER_S,
            burst=int(RATE_PER_S),
            jaeger=True,  # each arm's report names example traces (gatemesh.tracing.examples)
        )
        runner = ProcessRunner(topology, run_dir)
        try:
            runner.start(progress=progress)
        except BaseException:
            lock.release()
            raise

        def cleanup() -> None:
            runner.stop()
            lock.release()
            shutil.rmtree(run_dir, ignore_errors=True)

        lab = cls(runner.status, Faults.for_runner(runner), lambda s, n: runner.scale(s, n), cleanup, owned=True)
        lab.runner = runner
        lab.port_base = lock.base
        return lab

    @classmethod
    def attach(cls, name: str) -> Lab:
        """A topology started with ``gatemesh up --name NAME`` (left running afterwards)."""
        from gatemesh.faults import FaultError, SupervisorBackend

        try:
            backend = SupervisorBackend.for_run(name)
        except FaultError as e:
            raise LabError(str(e)) from None
        from gatemesh.runner.state import run_dir

        faults = Faults(backend, token=admin_token(run_dir(name)))  # apps behind a sidecar take /admin/* with it
        return cls(backend.status, faults, lambda s, n: backend.control.scale(s, n))

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- where things are

    def refresh(self) -> dict:
        try:
            self.status = self._status_fn()
        except RunnerError as e:
            raise LabError(str(e)) from None
        return self.status

    @property
    def gateway(self) -> str:
        return str(self.status["gateway"])

    @property
    def jaeger(self) -> str | None:
        return self.status.get("jaeger")

    @property
    def controlplane(self) -> str:
        return str(self.status["controlplane"])

    @property
    def api_key(self) -> str:
        return str(self.status.get("api_key") or "demo-key")

    def members(self, kind: str, service: str | None = None, alive_only: bool = True) -> list[dict]:
        return [
            i
            for i in self.status.get("instances", [])
            if i.get("kind") == kind
            and (service is None or i.get("service") == service)
            and (i.get("alive") or not alive_only)
        ]

    def instances(self, service: str | None = None) -> dict[str, str]:
        """Service instances → their app's base URL (for /admin/*)."""
        return {i["name"]: _base(i["health"]) for i in self.members("service", service)}

    def proxies(self, services: Iterable[str] | None = None) -> dict[str, str]:
        """``gateway`` and ``sidecar-<instance>`` (of ``services``, or all) → admin base URL."""
        wanted = set(services) if services is not None else None
        out = {"gateway": str(self.status.get("gateway_admin") or self.gateway)}  # its admin listener
        for s in self.members("sidecar"):
            if wanted is None or s.get("service") in wanted:
                out[s["name"]] = _base(s["health"])
        return out

    # --------------------------------------------------------------- policies

    @property
    def policies(self) -> PolicyClient:
        """The one policy client, on this topology's gateway, control plane and sidecars."""
        return PolicyClient.from_status(self.status)

    def set_policies(self, location: str, policies: Mapping[str, Policy]) -> None:
        """Put a whole policy (every field) per service at ``edge`` (the gateway's admin
        API) or ``mesh`` (the control plane, pushed to the sidecars); ``"*"`` is the default."""
        try:
            self.policies.put(location, policies, wait_s=0)
        except PolicyClientError as e:
            raise LabError(f"could not set the {location} policies of {', '.join(policies)}: {e}") from None

    def wait_mesh_policies(self, policies: Mapping[str, Policy], sidecars_of: Iterable[str]) -> float:
        """Wait until the sidecars of ``sidecars_of`` apply ``policies``; returns seconds waited."""
        urls = self.proxies(sidecars_of)
        urls.pop("gateway")
        try:
            return self.policies.wait_mesh(policies, urls.values(), wait_s=POLICY_PUSH_TIMEOUT_S)
        except PolicyClientError as e:
            raise LabError(f"{e}; is the control plane running?") from None

    def read_policies(self) -> dict[str, dict]:
        """What is in force now at each location: {"edge": table, "mesh": {service: doc}}."""
        return self.policies.snapshot()

    def restore_policies(self, saved: dict[str, dict]) -> None:
        """Put back what ``read_policies`` saw (an attached topology is left as found)."""
        self.policies.restore(saved, SERVICES)

    # --------------------------------------------------------------- observing

    def scrape(self, proxies: Mapping[str, str]) -> dict[str, Samples]:
        """Every proxy's /metrics, parsed; a proxy that does not answer is left out."""

        def one(item: tuple[str, str]) -> tuple[str, Samples | None]:
            name, url = item
            try:
                status, body = request("GET", f"{url}/metrics", timeout_s=ADMIN_TIMEOUT_S)
            except OSError:
                return name, None
            return name, parse(body.decode("utf-8", "replace")) if status == 200 else None

        with ThreadPoolExecutor(max_workers=8) as pool:
            return {name: s for name, s in pool.map(one, proxies.items()) if s is not None}

    def event_seqs(self, proxies: Mapping[str, str]) -> dict[str, int]:
        """The last event number of each proxy (read events after it with ``events_since``)."""
        out = {}
        for name, url in proxies.items():
            try:
                out[name] = int(
                    json_request("GET", f"{url}/-/events?since=999999999", timeout_s=ADMIN_TIMEOUT_S)["last_seq"]
                )
            except (OSError, HttpError, ValueError, KeyError):
                out[name] = 0
        return out

    def events_since(self, proxies: Mapping[str, str], seqs: Mapping[str, int]) -> list[dict]:
        events: list[dict] = []
        for name, url in proxies.items():
            try:
                data = json_request("GET", f"{url}/-/events?since={seqs.get(name, 0)}", timeout_s=ADMIN_TIMEOUT_S)
            except (OSError, HttpError, ValueError):
                continue
            events.extend(data.get("events", []))
        return sorted(events, key=lambda e: e.get("at", 0))

    def upstream_states(self, proxies: Mapping[str, str]) -> dict[str, dict]:
        out = {}
        for name, url in proxies.items():
            try:
                out[name] = json_request("GET", f"{url}/-/upstreams", timeout_s=ADMIN_TIMEOUT_S)["upstreams"]
            except (OSError, HttpError, ValueError, KeyError):
                pass
        return out

    def calls(self, service: str | None = None) -> dict[str, int]:
        """Requests each instance's app has received so far (``/admin/stats``)."""

        token = bearer(self.faults.token)  # an app behind a sidecar shows its stats to the admin only

        def one(item: tuple[str, str]) -> tuple[str, int | None]:
            name, url = item
            try:
                stats = json_request("GET", f"{url}/admin/stats", timeout_s=ADMIN_TIMEOUT_S, headers=token)
                return name, int(stats["requests"])
            except (OSError, HttpError, ValueError, KeyError):
                return name, None

        with ThreadPoolExecutor(max_workers=8) as pool:
            return {n: c for n, c in pool.map(one, self.instances(service).items()) if c is not None}

    # --------------------------------------------------------------- changing it

    def scale(self, service: str, count: int) -> None:
        try:
            self._scale_fn(service, count)
        except RunnerError as e:
            raise LabError(str(e)) from None
        self.refresh()

    def counts(self) -> dict[str, int]:
        return {s: len(self.members("service", s, alive_only=False)) for s in SERVICES}

    def describe(self) -> dict[str, Any]:
        return {
            "topology": self.status.get("topology"),
            "gateway": self.gateway,
            "controlplane": self.controlplane,
            "owned": self.owned,
            "counts": self.counts(),
            "port_base": self.port_base,
        }


def _base(health_url: str) -> str:
    return str(health_url).rsplit("/health", 1)[0]


def dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
