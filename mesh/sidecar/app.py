"""The sidecar process.

inbound  (its instance's Toxiproxy listener → here → the local app): deadline check,
         API management when `--expose`d, no retries (a retry to the same local app
         would only double its load).
outbound (the local app → here, target named by Host header → another service): the
         full resilient call under the mesh policy the control plane pushes.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass

from gatemesh.apimgmt import ApiManager, ApiMgmtConfig
from gatemesh.discovery import Endpoint, Registration, Snapshot, SnapshotWatcher
from gatemesh.events import EventLog
from gatemesh.http.client import UpstreamError
from gatemesh.http.limits import listener_limits
from gatemesh.http.messages import Request, Response
from gatemesh.http.server import serve
from gatemesh.metrics import ProxyMetrics
from gatemesh.pipeline import ResilientCaller
from gatemesh.policy import PolicyError, PolicyTable, all_off
from gatemesh.proxy import Proxy, service_from_host
from gatemesh.refusal import refusal_response
from gatemesh.runtime import drain

log = logging.getLogger("sidecar")
APP_HEALTH_TIMEOUT_S = 0.4   # below a health checker's default 0.5 s probe timeout
LOCAL = "local"   # the inbound side's only upstream: this instance's app
# The inbound side has no policy timeout; without a propagated deadline its listener still
# bounds the wait for the app's answer: Envoy's route timeout default (15 s).
INBOUND_TIMEOUT_S = float(os.environ.get("GATEMESH_INBOUND_TIMEOUT_S", "15"))


@dataclass(frozen=True)
class SidecarConfig:
    service: str
    instance: str
    app: tuple[str, int]
    host: str
    inbound_port: int
    outbound_port: int
    advertise: str
    control_plane: str
    ttl_s: float = 3.0          # heartbeat TTL: an instance that stops beating is gone after this
    expose: bool = False        # sidecar-gateway topology: this sidecar is the managed API's front door


def inbound_policies() -> PolicyTable:
    # Every pattern off on the way in: the caller's side owns retries, breaking and
    # balancing. The propagated deadline is still enforced (the pipeline bounds each
    # attempt by it even with timeouts off), so the mesh drops work the edge gave up on.
    table = PolicyTable.from_dict({})
    table.set("*", all_off())
    return table


class Sidecar:
    def __init__(self, cfg: SidecarConfig):
        self.cfg = cfg
        name = f"sidecar:{cfg.instance}"
        metrics, events = ProxyMetrics(name), EventLog(name)
        self.outbound = ResilientCaller(name, PolicyTable.from_dict({}), metrics=metrics, events=events)
        self.inbound = ResilientCaller(name, inbound_policies(), metrics=metrics, events=events,
                                       clock=self.outbound.clock, pool=self.outbound.pool)
        self.inbound.update_endpoints({LOCAL: [Endpoint(cfg.instance, cfg.app[0], cfg.app[1], {})]})
        self.proxy_out = Proxy(name, self.outbound, policies_writable=False, health=self._health)
        self.proxy_in = Proxy(name, self.inbound, policies_writable=False)
        self.api = ApiManager(ApiMgmtConfig.from_dict({}), self.outbound.clock) if cfg.expose else None
        self.watcher = SnapshotWatcher(cfg.control_plane, on_change=self._on_snapshot)
        self.registration = Registration(cfg.control_plane, cfg.service, cfg.instance, cfg.advertise, cfg.ttl_s)
        self.in_flight = 0
        self._policies_seen: object = None
        self._apimgmt_seen: object = None

    def _health(self) -> dict:
        return {"service": self.cfg.service, "instance": self.cfg.instance,
                "discovery": "connected" if self.watcher.connected else "disconnected",
                "snapshot_index": self.watcher.snapshot.index if self.watcher.snapshot else None}

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.outbound.update_endpoints(snap.services)
        if snap.policies != self._policies_seen:
            self._policies_seen = snap.policies
            try:
                self.outbound.set_policies(PolicyTable.from_dict(dict(snap.policies)))
            except (PolicyError, ValueError, TypeError) as exc:  # keep the last good policies
                self.outbound.events.emit("policy-rejected", "", "", str(exc))
        if self.api is not None and snap.apimgmt != self._apimgmt_seen:
            self._apimgmt_seen = snap.apimgmt
            try:
                self.api.reconfigure(ApiMgmtConfig.from_dict(dict(snap.apimgmt)))
            except ValueError as exc:
                self.outbound.events.emit("apimgmt-rejected", "", "", str(exc))

    async def _admin(self, req: Request) -> Response | None:
        resp = await self.proxy_out.admin(req)
        if resp is not None and req.path == b"/health":
            # Like a pod's readiness: the sidecar is only healthy when its app is, so an
            # active health check through the sidecar sees an app that died or hangs.
            if self.watcher.snapshot is None:
                return refusal_response("no-healthy-upstream", "the sidecar has not reached the control plane yet",
                                        self.proxy_out.name_bytes)
            problem = await self._app_problem()
            if problem is not None:
                return refusal_response("no-healthy-upstream", f"the app behind this sidecar is unhealthy: {problem}",
                                        self.proxy_out.name_bytes)
        return resp

    async def _app_problem(self) -> str | None:
        host, port = self.cfg.app
        try:
            async with asyncio.timeout(APP_HEALTH_TIMEOUT_S):
                resp = await self.outbound.pool.request(host, port, b"GET", b"/health", [(b"host", b"localhost")])
                await resp.read()
        except TimeoutError:
            return f"no answer from {host}:{port}/health within {APP_HEALTH_TIMEOUT_S * 1000:.0f} ms"
        except UpstreamError as exc:
            return str(exc)
        return None if resp.status == 200 else f"{host}:{port}/health answered {resp.status}"

    async def handle_inbound(self, req: Request) -> Response:
        admin = await self._admin(req)
        if admin is not None:
            return admin
        if self.api is not None:
            key = req.header(b"x-api-key")
            verdict = self.api.check(key.decode("latin-1") if key is not None else None, self.cfg.service)
            if not verdict.allowed:
                return refusal_response(verdict.reason, f"API management at {self.proxy_in.name} refused: {verdict.reason}",
                                        self.proxy_in.name_bytes, retry_after_s=verdict.retry_after_s)
        self.in_flight += 1
        try:
            return await self.proxy_in.forward(req, LOCAL, req.target)
        finally:
            self.in_flight -= 1

    async def handle_outbound(self, req: Request) -> Response:
        admin = await self._admin(req)
        if admin is not None:
            return admin
        service = service_from_host(req)
        if service is None:
            return refusal_response("bad-request", "name the target service in the Host header (Host: pricing)",
                                    self.proxy_out.name_bytes)
        self.in_flight += 1
        try:
            return await self.proxy_out.forward(req, service, req.target)
        finally:
            self.in_flight -= 1

    async def run(self, stop: asyncio.Event) -> None:
        await self.watcher.start()
        cfg = self.cfg
        servers = [await serve(self.handle_inbound, cfg.host, cfg.inbound_port, proxy_name=self.proxy_in.name,
                               limits=listener_limits(answer_timeout_s=INBOUND_TIMEOUT_S)),
                   await serve(self.handle_outbound, cfg.host, cfg.outbound_port, proxy_name=self.proxy_out.name)]
        await self.registration.start()
        log.info("sidecar %s: inbound %s:%d → app %s:%d, outbound %s:%d", cfg.instance, cfg.host, cfg.inbound_port,
                 *cfg.app, cfg.host, cfg.outbound_port)
        checks = asyncio.create_task(self.outbound.health_check_loop(stop))
        await stop.wait()
        await checks
        # Deregister first so peers stop choosing us, then drain what is already here.
        await self.registration.stop()
        await drain(lambda: self.in_flight)
        for s in servers:
            s.close()
        await self.watcher.stop()
        self.outbound.pool.close()
