"""The sidecar process.

inbound  (its instance's Toxiproxy listener → here → the local app): deadline check,
         API management when `--expose`d, no retries (a retry to the same local app
         would only double its load).
outbound (the local app → here, target named by Host header → another service): the
         full resilient call under the mesh policy the control plane pushes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gatemesh import tracing
from gatemesh.admin import Admin
from gatemesh.apimgmt import ApiManager, ApiMgmtConfig
from gatemesh.discovery import Endpoint, Registration, Snapshot, SnapshotWatcher
from gatemesh.events import EventLog
from gatemesh.http.client import UpstreamError
from gatemesh.http.messages import Request, Response, json_response
from gatemesh.http.server import Handler
from gatemesh.metrics import ProxyMetrics
from gatemesh.pipeline import ResilientCaller
from gatemesh.policy import PolicyError, PolicyTable, all_off
from gatemesh.proxy import Proxy
from gatemesh.reasons import Reason
from gatemesh.refusal import refusal_response
from gatemesh.security.authz import AuthzPolicy
from gatemesh.security.ca import spiffe_id
from gatemesh.security.identity import WorkloadIdentity
from gatemesh.security.mesh_tls import MTLS_META, MeshTls
from gatemesh.security.principal import PRINCIPAL_HEADER, api_key_principal, drop_principal, hand_on
from gatemesh.security.tls import TlsListener, check_mode
from gatemesh.shell import Route, Shell, process_listener_limits, upstream_pool

if TYPE_CHECKING:
    from gatemesh.tracing.tracer import Tracer

APP_HEALTH_TIMEOUT_S = 0.4  # below a health checker's default 0.5 s probe timeout
GATEWAY_IDENTITY = spiffe_id("gateway")  # the one caller whose X-Gatemesh-Principal is believed
MTLS_PATH = b"/-/mtls"  # GET the mode, identity and connections; PUT {"mode"} to switch live
LOCAL = "local"  # the inbound side's only upstream: this instance's app
APP_SECRET_HEADER = b"x-gatemesh-app-secret"  # services/kit/guard.py reads it: the call came through here
# The inbound side has no policy timeout; without a propagated deadline its listener still
# bounds the wait for the app's answer: Envoy's route timeout default (15 s). The tests'
# override is read at the process edge (__main__), not at import: the fork server imports
# this module for every component.
INBOUND_TIMEOUT_ENV = "GATEMESH_INBOUND_TIMEOUT_S"
INBOUND_TIMEOUT_S = 15.0


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
    ttl_s: float = 3.0  # heartbeat TTL: an instance that stops beating is gone after this
    expose: bool = False  # sidecar-gateway topology: this sidecar is the managed API's front door
    bootstrap_token: str | None = field(default=None, repr=False)  # the runner's credential for this instance
    mtls: str = "off"  # inbound off / permissive / strict (gatemesh.security.tls); off: as before issue 15
    # Sent to the app on every inbound call: the app answers only calls that carry it (issue 15,
    # item 5). None: nothing sent, as before (compose and k8s until they hand one out).
    app_secret: str | None = field(default=None, repr=False)
    inbound_timeout_s: float = INBOUND_TIMEOUT_S  # the inbound listener's wait for the app's answer


def inbound_policies() -> PolicyTable:
    # Every pattern off on the way in: the caller's side owns retries, breaking and
    # balancing. The propagated deadline is still enforced (the pipeline bounds each
    # attempt by it even with timeouts off), so the mesh drops work the edge gave up on.
    table = PolicyTable.from_dict({})
    table.set("*", all_off())
    return table


class Sidecar:
    def __init__(self, cfg: SidecarConfig, tracer: Tracer | None = None):
        self.cfg = cfg
        name = f"sidecar:{cfg.instance}"
        metrics, events = ProxyMetrics(name), EventLog(name)
        pool = upstream_pool()  # both callers' (one socket set); by its class: only it dials TLS
        self.outbound = ResilientCaller(
            name, PolicyTable.from_dict({}), metrics=metrics, events=events, pool=pool, tracer=tracer
        )
        self.inbound = ResilientCaller(
            name,
            inbound_policies(),
            metrics=metrics,
            events=events,
            clock=self.outbound.clock,
            pool=pool,
            tracer=tracer,
        )
        self.inbound.update_endpoints({LOCAL: [Endpoint(cfg.instance, cfg.app[0], cfg.app[1], {})]})
        self.proxy_out = Proxy(name, self.outbound)
        self.proxy_in = Proxy(name, self.inbound)
        self.api = ApiManager(ApiMgmtConfig.from_dict({}), self.outbound.clock) if cfg.expose else None
        # The exposed sidecar applies the API keys, which the snapshot shows only to a credential: its own.
        watch_token = cfg.bootstrap_token if cfg.expose else None
        self.watcher = SnapshotWatcher(cfg.control_plane, on_change=self._on_snapshot, token=watch_token)
        self.admin = Admin(
            name,
            self.outbound,
            policies_writable=False,
            also=(self.inbound,),
            extra={MTLS_PATH: self._mtls},
            extra_writable=frozenset({MTLS_PATH}),
        )
        meta = {MTLS_META: cfg.mtls} if cfg.mtls != "off" else {}
        self.shell = Shell(
            self.admin,
            self.watcher,
            registration=Registration(
                cfg.control_plane,
                cfg.service,
                cfg.instance,
                cfg.advertise,
                cfg.ttl_s,
                meta=meta,
                token=cfg.bootstrap_token,
            ),
            fields=lambda: {"service": cfg.service, "instance": cfg.instance},
            readiness=self._app_problem,
            tracer=tracer,
        )
        if tracer is not None:
            tracing.register_metrics(tracer, metrics.registry)
        # The Toxiproxy-facing side serves /health and /metrics only; the admin API (/-/*) is on the
        # app-local outbound port (issue 15: PUT /-/policies... was reachable through Toxiproxy).
        self.handle_inbound: Handler = self.shell.handler(self.proxy_in, self.route_inbound, admin_api=False)
        self.handle_outbound: Handler = self.shell.handler(self.proxy_out, self.shell.by_host)
        self._policies_seen: object = None
        self._apimgmt_seen: object = None
        self._authz_seen: object = None
        self.authz = AuthzPolicy()  # default allow until the control plane says otherwise
        self._app_secret = cfg.app_secret.encode() if cfg.app_secret else None
        self.identity = self.tls = self.mesh_tls = None
        if cfg.mtls != "off":  # a workload identity: TLS in on the inbound port, TLS out to peers that take it
            self.identity = WorkloadIdentity(cfg.control_plane, cfg.bootstrap_token or "", cfg.service)
            # The exposed sidecar is the front door of sidecar-gateway: clients from outside the
            # mesh (no mesh certificate) enter there, as through an ingress. It stays permissive.
            mode = "permissive" if cfg.expose and cfg.mtls == "strict" else cfg.mtls
            self.tls = TlsListener(self.identity, mode)
            self.shell.listener_tls[cfg.inbound_port] = self.tls
            self.mesh_tls = MeshTls(self.identity)
            pool.tls_for = self.mesh_tls.tls_for
            metrics.watch_connections("inbound", self.tls.counts)  # gatemesh_connections_total
            metrics.watch_connections("outbound", self.mesh_tls.dialled)

    def _mtls(self, req: Request) -> Response:
        """GET: the mode, the identity and the connections by kind; PUT {"mode"}: switch live."""
        if self.tls is None or self.identity is None or self.mesh_tls is None:
            if req.method == b"PUT":
                return refusal_response(
                    Reason.BAD_REQUEST, "this sidecar runs with --mtls off: it has no identity", self.shell.name_bytes
                )
            return json_response(200, {"mode": "off", "identity": None})
        if req.method == b"PUT":
            try:
                mode = json.loads(req.body or b"{}").get("mode")
                self.tls.mode = check_mode(mode)
            except (ValueError, AttributeError) as exc:
                return refusal_response(Reason.BAD_REQUEST, f'{exc} (PUT {{"mode": "strict"}})', self.shell.name_bytes)
        return json_response(
            200,
            {
                **self.tls.status(),
                "renewals": self.identity.renewals,
                "expires_in_s": round(self.identity.not_after - asyncio.get_running_loop().time(), 1),
                "outbound": dict(self.mesh_tls.dialled),
            },
        )

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.outbound.update_endpoints(snap.services)
        if self.mesh_tls is not None:
            self.mesh_tls.update(snap.services)
        if snap.authz != self._authz_seen:
            self._authz_seen = snap.authz
            try:
                self.authz = AuthzPolicy.from_dict(dict(snap.authz)) if snap.authz else AuthzPolicy()
            except ValueError as exc:  # keep the last good one
                self.inbound.events.emit("authz-rejected", "", "", str(exc))
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

    async def _app_problem(self) -> str | None:
        """Like a pod's readiness: the sidecar is only healthy when its app is, so an active
        health check through the sidecar sees an app that died or hangs."""
        host, port = self.cfg.app
        try:
            async with asyncio.timeout(APP_HEALTH_TIMEOUT_S):
                resp = await self.outbound.pool.request(host, port, b"GET", b"/health", [(b"host", b"localhost")])
                await resp.read()
        except TimeoutError:
            return f"its app gave no answer from {host}:{port}/health within {APP_HEALTH_TIMEOUT_S * 1000:.0f} ms"
        except UpstreamError as exc:
            return f"its app is unhealthy: {exc}"
        return None if resp.status == 200 else f"its app's {host}:{port}/health answered {resp.status}"

    def route_inbound(self, req: Request) -> Route:
        """Everything goes to the local app, if the caller's identity may call this service; an
        exposed sidecar guards it with API keys."""
        identity = getattr(req, "identity", None)  # set only on an mTLS connection
        denied = self.authz.decide(identity, self.cfg.service, req.method.decode("latin-1"), req.path.decode("latin-1"))
        if denied is not None:
            self.inbound.events.emit("authz-denied", self.cfg.service, self.cfg.instance, denied)  # the audit record
            return refusal_response(Reason.NOT_AUTHORIZED, denied, self.shell.name_bytes)
        if identity != GATEWAY_IDENTITY and req.header(PRINCIPAL_HEADER) is not None:
            drop_principal(req)  # only the gateway may say who the end user is
        if self.api is not None:
            refused = self.shell.api_refusal(self.api, req, self.cfg.service)
            if refused is not None:
                return refused
            hand_on(req, api_key_principal(req) if self.api.enabled else None)  # the app never sees the key
        if self._app_secret is not None:
            req.headers.append((APP_SECRET_HEADER, self._app_secret))  # the app's proof this came through its sidecar
        return LOCAL, req.target

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.cfg
        if self.identity is not None:
            await self.identity.start()  # the first leaf before the inbound port opens
        await self.shell.run(
            stop,
            [
                (
                    cfg.host,
                    cfg.inbound_port,
                    self.handle_inbound,
                    process_listener_limits(answer_timeout_s=cfg.inbound_timeout_s),
                ),
                (cfg.host, cfg.outbound_port, self.handle_outbound),
            ],
            [self.outbound],
        )
        if self.identity is not None:
            await self.identity.stop()
