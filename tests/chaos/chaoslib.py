"""What every chaos scenario needs: calls at the edge or in the mesh, policies switched at
either location, counts at the instances, and putting the topology back as it was.

"At the edge" is the gateway's own call (``GET /api/pricing/1`` → pricing). "In the
mesh" is an app's call through its sidecar: the test acts as ``storefront-1``'s app and
calls ``sidecar-storefront-1``'s outbound port with ``Host: pricing`` — exactly what the
storefront does. Either way the call crosses the target instance's Toxiproxy proxy, so
one fault serves both locations.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from gatemesh.faults import Faults
from gatemesh.policy import Policy, all_off
from gatemesh.policy_client import PolicyClient
from gatemesh.runner import ProcessRunner, RunnerError
from gatemesh.security.credentials import bearer
from gatemesh.topology import PortPlan, Topology
from gatemesh.topology.apis import SERVICE_PATHS

EDGE, MESH = "edge", "mesh"
CALLER = "storefront-1"  # the app whose sidecar the mesh calls go through
CONVERGE_S = 20.0  # proxies see the registry and policies within ~1 s; this is the bound
POLICY_ARRIVAL_S = 5.0  # control plane → sidecar long-poll push
POLL_S = 0.02
CALL_TIMEOUT_S = 10.0  # no single call in the suite should come near this


def baseline() -> Policy:
    """The policy between scenarios: every pattern off, so each scenario switches on
    exactly the pattern it is about (and its control arm leaves it off)."""
    return all_off()


def only(**sections: dict[str, Any]) -> Policy:
    """All patterns off but the given ones: ``only(timeout={"enabled": True, ...})``."""
    return baseline().merged(sections)


@dataclass
class Result:
    status: int  # 0: no HTTP answer at all (the client gave up)
    elapsed_s: float
    reason: str | None = None  # X-Gatemesh-Reason
    instance: str | None = None  # X-Instance
    attempts: str | None = None  # X-Gatemesh-Attempts
    started_s: float = 0.0  # monotonic time the call was sent
    body: Any = None
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        return (
            f"<{self.status} {self.reason or ''} {self.instance or ''} "
            f"attempts={self.attempts!r} {self.elapsed_s * 1000:.0f}ms>"
        )


# What a Toxiproxy reset_peer looks like to the calling proxy. Plain HTTP: TCP connects, the
# request goes out, the peer resets: upstream-reset. Under mTLS the reset lands in the TLS
# handshake, before any byte of the request left: connect-failed, which is the truth (and
# what makes even a POST safe to retry). Envoy counts a failed TLS handshake as a connection
# failure (UF) too.
MTLS = os.environ.get("GATEMESH_MTLS", "off") != "off"
RESET_REASON = "connect-failed" if MTLS else "upstream-reset"


class Chaos:
    """One running edge-mesh topology, its faults, and the scenario helpers."""

    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner
        self.faults = Faults.for_runner(runner)
        topo = runner.topology
        self.gateway = topo.endpoints.gateway
        self.gateway_admin = topo.endpoints.gateway_admin  # its /-/* API: not on the public listener (issue 15)
        self.controlplane = topo.endpoints.controlplane
        self.key = topo.api_key
        sidecar = topo.component(f"sidecar-{CALLER}")
        self.outbound = f"http://127.0.0.1:{sidecar.listen['outbound']}"
        # its admin on the app-local outbound port: plain in every mTLS mode (the inbound is TLS-only in strict)
        self.caller_admin = f"http://127.0.0.1:{sidecar.listen['outbound']}"
        self.counts = dict(topo.counts)
        # The one policy client; "the mesh has it" means the caller's sidecar has it.
        self.policies = PolicyClient(
            self.gateway_admin,
            self.controlplane,
            [self.caller_admin],
            wait_s=POLICY_ARRIVAL_S,
            # compose runs its control plane --open (no credential handoff to containers yet), so
            # its runner has no credentials: no token
            token=runner.credentials.admin_token if hasattr(runner, "credentials") else None,
        )
        self._local = threading.local()
        self._touched: dict[str, set[str]] = {EDGE: set(), MESH: set()}

    # ------------------------------------------------------------------ calls

    @property
    def http(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def url(self, where: str, service: str, path: str = "/1") -> tuple[str, dict[str, str]]:
        """Where a call to ``service`` goes from ``where``, and the headers it needs."""
        if where == EDGE:
            return f"{self.gateway}/api/{service}{path}", {"X-Api-Key": self.key}
        if where == MESH:
            return f"{self.outbound}{SERVICE_PATHS[service]}{path}", {"Host": service}
        raise ValueError(f"where must be {EDGE!r} or {MESH!r}, got {where!r}")

    def call(
        self,
        where: str,
        service: str,
        path: str = "/1",
        method: str = "GET",
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> Result:
        url, base = self.url(where, service, path)
        return self.request(method, url, {**base, **(headers or {})}, json=json, timeout_s=timeout_s)

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        json: Any = None,
        timeout_s: float = CALL_TIMEOUT_S,
    ) -> Result:
        t0 = time.monotonic()
        try:
            resp = self.http.request(method, url, headers=headers, json=json, timeout=timeout_s)
        except requests.RequestException:
            return Result(0, time.monotonic() - t0, started_s=t0)
        elapsed = time.monotonic() - t0
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        h = resp.headers
        return Result(
            resp.status_code,
            elapsed,
            h.get("X-Gatemesh-Reason"),
            h.get("X-Instance"),
            h.get("X-Gatemesh-Attempts"),
            t0,
            body,
            CaseInsensitiveDict(h),
        )

    def burst(self, fn: Callable[[int], Result], n: int, concurrency: int = 4, limit_s: float = 30.0) -> list[Result]:
        """``fn(i)`` for i in 0..n-1 on ``concurrency`` threads; bounded in count and time."""
        deadline = time.monotonic() + limit_s
        results: list[Result] = []
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            futures = [pool.submit(lambda i=i: fn(i) if time.monotonic() < deadline else None) for i in range(n)]
            for f in futures:
                r = f.result(timeout=limit_s + CALL_TIMEOUT_S)
                if r is not None:
                    results.append(r)
        return results

    # ------------------------------------------------------------------ policies

    def set_policy(self, where: str, service: str, policy: Policy) -> None:
        """Put ``policy`` in force for ``service`` at ``where``; returns once it is live
        (the gateway applies it at once; a sidecar gets it pushed by the control plane)."""
        self.policies.put(where, {service: policy})
        self._touched[where].add(service)

    def reset_policies(self) -> None:
        """Back to the baseline at both locations, and wait until the caller's sidecar has it."""
        self.policies.reset_to(baseline())
        self._touched = {EDGE: set(), MESH: set()}

    # ------------------------------------------------------------------ observing

    def answer_cut_bytes(self, instance: str) -> int:
        """``limit_data`` bytes that lose the answer *after* the request was served: 1 in plain
        HTTP; under mTLS, past the server's handshake flight (gatemesh.security.probe), else the
        cut falls in the handshake and the request is never sent at all."""
        if os.environ.get("GATEMESH_MTLS", "off") == "off":
            return 1
        from gatemesh.security.probe import answer_cut_bytes, client_context

        port = self.runner.topology.component(f"sidecar-{instance}").listen["inbound"]
        return answer_cut_bytes(port, client_context(self.controlplane, self.runner.admin_headers()))

    def admin_url(self, instance: str) -> str:
        return self.faults.instance(instance).admin_url or ""

    def app_json(self, instance: str, path: str) -> Any:
        """GET ``path`` on the instance's app itself (no proxy, no fault): with the run's admin
        token, the only caller an app behind a sidecar answers around it."""
        return self._json("GET", f"{self.admin_url(instance)}{path}", headers=bearer(self.faults.token))

    def stats(self, instance: str) -> int:
        """Requests the instance's app received (not /health, not /admin)."""
        return self.faults.calls(instance)

    def reset_stats(self, *instances: str) -> None:
        for i in instances:  # on the app's own port: behind a sidecar, only with the run's admin token
            self._json("DELETE", f"{self.admin_url(i)}/admin/stats", headers=bearer(self.faults.token))

    def upstreams(self, where: str) -> dict[str, Any]:
        base = self.gateway_admin if where == EDGE else self.caller_admin
        return self._json("GET", f"{base}/-/upstreams")["upstreams"]

    def events(self, where: str, since: int = 0) -> list[dict[str, Any]]:
        base = self.gateway_admin if where == EDGE else self.caller_admin
        return self._json("GET", f"{base}/-/events?since={since}")["events"]

    def last_event_seq(self, where: str) -> int:
        base = self.gateway_admin if where == EDGE else self.caller_admin
        return int(self._json("GET", f"{base}/-/events?since=0").get("last_seq", 0))

    def registered(self, service: str) -> set[str]:
        snap = self._json("GET", f"{self.controlplane}/v1/snapshot?wait_s=0")
        return {i["id"] for i in snap.get("services", {}).get(service, [])}

    def wait_until(self, what: str, check: Callable[[], bool], timeout_s: float = 10.0) -> float:
        """Poll ``check`` until true; returns the seconds it took. Fails with ``what``."""
        t0 = time.monotonic()
        while not check():
            if time.monotonic() - t0 > timeout_s:
                raise AssertionError(f"not within {timeout_s}s: {what}")
            time.sleep(POLL_S)
        return time.monotonic() - t0

    # ------------------------------------------------------------------ putting it back

    def reset(self) -> None:
        """Every fault off, killed processes back, the baseline counts and policies, and
        both proxies the scenarios use clean: their learned state (breakers, ejections,
        budgets, fallback answers) cleared by ``POST /-/reset``, every endpoint known."""
        self.faults.reset(restart_dead=True)
        for service, n in self.counts.items():
            if self.runner.topology.counts.get(service) != n:
                self.runner.scale(service, n)
        self.reset_policies()
        for base in (self.gateway_admin, self.caller_admin):
            self._json("POST", f"{base}/-/reset")
        self.wait_converged()

    def _clean(self, where: str) -> list[str]:
        """What is not as it should be at ``where`` (empty: clean)."""
        problems = []
        try:
            ups = self.upstreams(where)
        except (OSError, requests.RequestException, ValueError, KeyError) as e:
            return [f"no answer ({e})"]
        for service, n in self.counts.items():
            want = {f"{service}-{k}" for k in range(1, n + 1)}
            up = ups.get(service)
            if up is None or set(up["endpoints"]) != want:
                problems.append(f"{service} endpoints {sorted(up['endpoints']) if up else None}")
                continue
            if up["breaker"] != "closed" or any(s != "closed" for s in up["instance_breakers"].values()):
                problems.append(f"{service} breaker {up['breaker']} {up['instance_breakers']}")
            if up["ejected"]:
                problems.append(f"{service} ejected {up['ejected']}")
        return problems

    def wait_converged(self, timeout_s: float = CONVERGE_S) -> None:
        """Until both proxies know every endpoint and hold no open breaker or ejection; a
        proxy whose state is stuck half a second after the faults went is reset again."""
        admin = {EDGE: self.gateway_admin, MESH: self.caller_admin}
        deadline = time.monotonic() + timeout_s
        dirty_since: dict[str, float] = {}
        while True:
            problems = {where: self._clean(where) for where in admin}
            if not any(problems.values()):
                return
            now = time.monotonic()
            for where, found in problems.items():
                if not found:
                    dirty_since.pop(where, None)
                    continue
                stuck = any("breaker" in p or "ejected" in p for p in found)
                if stuck and now - dirty_since.setdefault(where, now) > 0.5:
                    self._json("POST", f"{admin[where]}/-/reset")
                    dirty_since.pop(where)
            if now > deadline:
                raise AssertionError(f"the topology did not settle in {timeout_s}s: {problems}")
            time.sleep(0.05)

    def _json(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        resp = self.http.request(method, url, json=body, headers=headers, timeout=CALL_TIMEOUT_S)
        if resp.status_code >= 400:
            raise AssertionError(f"{method} {url} answered {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None


def share(results: Iterable[Result], pred: Callable[[Result], bool]) -> int:
    return sum(1 for r in results if pred(r))


START_TIMEOUT_S = 90.0


@contextmanager
def started(
    port_bases: Any, run_dir: Path, what: str, build: Callable[[PortPlan], Topology]
) -> Iterator[ProcessRunner]:
    """A topology of the scenarios' own on a port base of this worker's (``build`` makes it
    from the plan), started; a start that fails fails the test with the log's tail. Stopped
    and its port base released on the way out, however the block ends."""
    base = port_bases.acquire()
    runner = ProcessRunner(build(PortPlan.from_base(base)), run_dir)
    try:
        try:
            runner.start(timeout_s=START_TIMEOUT_S)
        except RunnerError as e:
            pytest.fail(f"the {what} topology did not start: {e}\n{e.log_tail}", pytrace=False)
        yield runner
    finally:
        runner.stop()
        port_bases.release(base)
