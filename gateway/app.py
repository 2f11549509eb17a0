"""The gateway process: edge listener (keys, limits, routes, composition), in the edge
topology an internal listener that routes east-west calls by Host header, and an admin
listener of its own (``admin_listen``: /-/policies, /-/upstreams, /-/events, ...; Envoy's
admin port). The other two answer /-/* 404 like an unknown route.

Only wiring: the process shell, the admin endpoints, forwarding and the resilient call
are gatemesh's, shared with the sidecar.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING

from gatemesh import tracing
from gatemesh.admin import Admin
from gatemesh.apimgmt import ApiManager
from gatemesh.discovery import Snapshot, SnapshotWatcher
from gatemesh.http.messages import Request, Response, json_response
from gatemesh.http.server import Handler
from gatemesh.pipeline import ResilientCaller
from gatemesh.proxy import Proxy
from gatemesh.reasons import Reason
from gatemesh.refusal import refusal_response
from gatemesh.security.identity import WorkloadIdentity
from gatemesh.security.mesh_tls import MeshTls
from gatemesh.shell import Route, Shell, upstream_pool

from .auth import EdgeAuth
from .composition import compose_product, product_id
from .config import GatewayConfig
from .routes import RouteTable

if TYPE_CHECKING:
    from gatemesh.tracing.tracer import Tracer

COMPOSITION_ROUTE = "products"  # the route name API keys grant for GET /api/products/{id}


class Gateway:
    def __init__(self, config: GatewayConfig, tracer: Tracer | None = None, identity_token: str | None = None):
        self.config = config
        pool = upstream_pool()  # kept by its class here: only a ConnectionPool dials TLS (tls_for below)
        self.caller = ResilientCaller(config.proxy_name, config.policies, pool=pool, tracer=tracer)
        self.proxy = Proxy(config.proxy_name, self.caller)
        self.routes = RouteTable(config.routes)
        self.api = ApiManager(config.apimgmt, self.caller.clock)
        self.watcher = SnapshotWatcher(config.control_plane, on_change=self._on_snapshot)
        self.admin = Admin(
            config.proxy_name, self.caller, policies_writable=True, extra={b"/-/routes": self._routes_doc}
        )
        self.shell = Shell(self.admin, self.watcher, tracer=tracer)
        if tracer is not None:
            tracing.register_metrics(tracer, self.caller.metrics.registry)
        self.auth = EdgeAuth(self.shell, self.api, config.jwt)
        # the composed page takes what the routes may take: a JWT too once an issuer is configured
        self.composition_auth = "api-key-or-jwt" if config.jwt is not None else "api-key"
        # With a bootstrap token the gateway has a workload identity and dials mTLS sidecars in TLS.
        self.identity = WorkloadIdentity(config.control_plane, identity_token, "gateway") if identity_token else None
        self.mesh_tls = MeshTls(self.identity) if self.identity else None
        if self.mesh_tls is not None:
            pool.tls_for = self.mesh_tls.tls_for
            self.caller.metrics.watch_connections("outbound", self.mesh_tls.dialled)  # gatemesh_connections_total
        # The public and the east-west listener serve no admin API (issue 15): only the admin listener does.
        self.handle_edge: Handler = self.shell.handler(self.proxy, self.route_edge, admin_api=False)
        self.handle_internal: Handler = self.shell.handler(self.proxy, self.shell.by_host, admin_api=False)
        self.handle_admin: Handler = self.shell.admin_handler()

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.caller.update_endpoints(snap.services)
        if self.mesh_tls is not None:
            self.mesh_tls.update(snap.services)

    def _routes_doc(self, req: Request) -> Response:
        return json_response(
            200,
            {
                "routes": [dataclasses.asdict(r) for r in self.config.routes],  # compiled: no __dict__ for vars()
                "composition": "/api/products/{id}" if self.config.composition else None,
            },
        )

    def route_edge(self, req: Request) -> Route:
        """A managed API: its route, then the API-key guard, then forward or compose."""
        pid = product_id(req.path) if self.config.composition else None
        if pid is not None:
            refused = self.auth.check(req, COMPOSITION_ROUTE, self.composition_auth)  # then its credentials stripped
            return refused or compose_product(self.caller, self.proxy, req, pid)
        matched = self.routes.match(req.target)
        if matched is None:
            return refusal_response(
                Reason.NO_ROUTE,
                f"no route for {req.path.decode('latin-1')}; GET /-/routes on the admin listener lists the routes",
                self.proxy.name_bytes,
            )
        route, target = matched
        return self.auth.check(req, route.name, route.auth) or (route.service, target)

    async def run(self, stop: asyncio.Event) -> None:
        listeners = [(*self.config.listen, self.handle_edge)]
        if self.config.internal_listen:
            listeners.append((*self.config.internal_listen, self.handle_internal))
        if self.config.admin_listen:
            listeners.append((*self.config.admin_listen, self.handle_admin))
        if self.identity is not None:
            await self.identity.start()
        jwks = None
        if self.config.jwt is not None:
            url = self.config.jwt.jwks_url or self.config.control_plane + "/v1/jwks"
            jwks = asyncio.create_task(self.auth.jwks_loop(url, stop), name="jwks")
        await self.shell.run(stop, listeners, [self.caller])
        if jwks is not None:
            await jwks
        if self.identity is not None:
            await self.identity.stop()
