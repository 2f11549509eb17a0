"""The gateway process: edge listener (keys, limits, routes, composition) and, in the
edge topology, an internal listener that routes east-west calls by Host header."""
from __future__ import annotations

import asyncio
import logging

from gatemesh.apimgmt import ApiManager
from gatemesh.discovery import Snapshot, SnapshotWatcher
from gatemesh.http.messages import Request, Response, json_response
from gatemesh.http.server import serve
from gatemesh.pipeline import ResilientCaller
from gatemesh.proxy import Proxy, service_from_host
from gatemesh.refusal import Refusal, refusal_response, to_response
from gatemesh.runtime import drain

from .composition import compose_product, product_id
from .config import GatewayConfig
from .routes import RouteTable

log = logging.getLogger("gateway")
COMPOSITION_ROUTE = "products"   # the route name API keys grant for GET /api/products/{id}


class Gateway:
    def __init__(self, config: GatewayConfig):
        self.config = config
        self.caller = ResilientCaller(config.proxy_name, config.policies)
        self.proxy = Proxy(config.proxy_name, self.caller, policies_writable=True, health=self._health)
        self.routes = RouteTable(config.routes)
        self.api = ApiManager(config.apimgmt, self.caller.clock)
        self.watcher = SnapshotWatcher(config.control_plane, on_change=self._on_snapshot)
        self.in_flight = 0

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.caller.update_endpoints(snap.services)

    def _health(self) -> dict:
        return {"discovery": "connected" if self.watcher.connected else "disconnected",
                "snapshot_index": self.watcher.snapshot.index if self.watcher.snapshot else None}

    async def handle_edge(self, req: Request) -> Response:
        if req.path == b"/-/routes":
            return json_response(200, {"routes": [vars(r) for r in self.config.routes],
                                       "composition": "/api/products/{id}" if self.config.composition else None})
        admin = await self.proxy.admin(req)
        if admin is not None:
            if req.path == b"/health" and self.watcher.snapshot is None:
                return refusal_response("no-healthy-upstream", "the gateway has no service catalog yet (control plane not reached)",
                                        self.proxy.name_bytes)
            return admin
        self.in_flight += 1
        try:
            pid = product_id(req.path) if self.config.composition else None
            if pid is not None:
                route_name, target = COMPOSITION_ROUTE, None
            else:
                matched = self.routes.match(req.target)
                if matched is None:
                    return refusal_response("no-route", f"no route for {req.path.decode('latin-1')}; "
                                            "see GET /-/routes for the routes this gateway serves", self.proxy.name_bytes)
                route, target = matched
                route_name = route.name
            key = req.header(b"x-api-key")
            verdict = self.api.check(key.decode("latin-1") if key is not None else None, route_name)
            if not verdict.allowed:
                return refusal_response(verdict.reason, _verdict_message(verdict.reason, route_name),
                                        self.proxy.name_bytes, retry_after_s=verdict.retry_after_s)
            if pid is not None:
                try:
                    return await compose_product(self.caller, self.proxy, req, pid)
                except Refusal as r:
                    return to_response(r, self.proxy.name_bytes)
            return await self.proxy.forward(req, route.service, target)
        finally:
            self.in_flight -= 1

    async def handle_internal(self, req: Request) -> Response:
        admin = await self.proxy.admin(req)
        if admin is not None:
            return admin
        service = service_from_host(req)
        if service is None:
            return refusal_response("bad-request", "east-west calls must name the target service in the Host header",
                                    self.proxy.name_bytes)
        self.in_flight += 1
        try:
            return await self.proxy.forward(req, service, req.target)
        finally:
            self.in_flight -= 1

    async def run(self, stop: asyncio.Event) -> None:
        await self.watcher.start()
        host, port = self.config.listen
        servers = [await serve(self.handle_edge, host, port, proxy_name=self.config.proxy_name)]
        if self.config.internal_listen:
            ihost, iport = self.config.internal_listen
            servers.append(await serve(self.handle_internal, ihost, iport, proxy_name=self.config.proxy_name))
        log.info("gateway listening on %s:%d%s", host, port,
                 f" (internal {self.config.internal_listen[0]}:{self.config.internal_listen[1]})" if self.config.internal_listen else "")
        checks = asyncio.create_task(self.caller.health_check_loop(stop))
        await stop.wait()
        for s in servers:
            s.close()
        await drain(lambda: self.in_flight)
        await checks
        await self.watcher.stop()
        self.caller.pool.close()


def _verdict_message(reason: str, route: str) -> str:
    return {
        "missing-api-key": "this API needs an API key in the X-Api-Key header",
        "invalid-api-key": "the X-Api-Key is not a known key",
        "forbidden": f"this API key is not allowed to call the {route!r} route",
        "rate-limited": "this API key exceeded its rate limit; retry after the Retry-After seconds",
    }.get(reason, reason)
