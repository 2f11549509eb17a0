"""The proxy process shell, one for the gateway and the sidecar: listeners, the admin
check, in-flight tracking and drain, health, the API-key guard, and the shutdown order.

The places only wire it (linkerd2-proxy's app/inbound|outbound|gateway): each listener
gets `handler(proxy, route)`, where `route(req)` is the place's own decision, made
without awaiting — a `Response` (a refusal), a `(service, target)` to forward, or an
awaitable answer (the gateway's composed page).

Shutdown, in this order (`run`), so that no request is cut and none is sent to a closing
proxy: 1. deregister from discovery (peers stop choosing this instance); 2. close the
listeners (no new connections; those open finish their requests); 3. drain the requests
in flight (bounded, `DRAIN_LIMIT_S`); 4. stop the health checks and the discovery watch;
5. close the upstream connection pools.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Union

from . import accesslog
from .admin import ADMIN_PREFIX, HEALTH_PATH, METRICS_PATH, Admin
from .apimgmt import ApiManager
from .discovery import Registration, SnapshotWatcher
from .http.limits import POOL_ENV_PREFIX, ServerLimits, from_env, listener_limits
from .http.messages import Request, Response, json_response
from .http.pool import ConnectionPool, PoolConfig
from .http.server import Handler, serve
from .pipeline import ResilientCaller
from .proxy import Proxy, service_from_host
from .reasons import Reason
from .refusal import Refusal, refusal_response
from .tracing.config import TRACING_PATH

if TYPE_CHECKING:
    from .tracing.tracer import Tracer

log = logging.getLogger("gatemesh.shell")
DRAIN_LIMIT_S = 2.0  # below Kubernetes' and compose's 10 s grace before SIGKILL
DRAIN_TICK_S = 0.02
TRACE_FLUSH_LIMIT_S = 1.0  # the last spans' export at shutdown; within the grace period left after the drain

_OWN_PATHS = frozenset({HEALTH_PATH, METRICS_PATH})
Route = Union[Response, tuple[str, bytes], Awaitable[Response]]
# The API-key guard's one message table (gateway and exposed sidecar alike).
API_MESSAGES: dict[Reason, str] = {
    Reason.MISSING_API_KEY: "this API needs an API key in the X-Api-Key header",
    Reason.INVALID_API_KEY: "the X-Api-Key is not a known key",
    Reason.FORBIDDEN: "this API key is not allowed to call the {route!r} route",
    Reason.RATE_LIMITED: "this API key exceeded its rate limit; retry after the Retry-After seconds",
}


async def drain(in_flight: Callable[[], int], limit_s: float = DRAIN_LIMIT_S) -> None:
    """Wait (bounded) for the requests in flight to finish."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while in_flight() > 0 and loop.time() < end:
        await asyncio.sleep(DRAIN_TICK_S)


# The proxies' process edge: GATEMESH_HTTP_* / GATEMESH_POOL_* are read here, once per
# listener or pool, and the HTTP library takes only the dataclasses.
def process_listener_limits(**overrides: Any) -> ServerLimits:
    """This process's listener limits: defaults, GATEMESH_HTTP_* overrides, then the app's own."""
    return listener_limits(os.environ, **overrides)


def upstream_pool() -> ConnectionPool:
    """A connection pool with this process's GATEMESH_POOL_* overrides."""
    return ConnectionPool(from_env(PoolConfig, os.environ, POOL_ENV_PREFIX))


class _Hidden:
    """The admin API as a public listener shows it: /metrics only; /-/* is not here."""

    def __init__(self, admin: Admin, name_bytes: bytes) -> None:
        self._admin = admin
        self._name = name_bytes

    def answer(self, req: Request) -> Response:
        if req.path == METRICS_PATH:
            return self._admin.answer(req)
        return refusal_response(
            Reason.NO_ROUTE,
            f"no route for {req.path.decode('latin-1')} (the admin API is not on this listener)",
            self._name,
        )


class Shell:
    def __init__(
        self,
        admin: Admin,
        watcher: SnapshotWatcher,
        *,
        registration: Registration | None = None,
        fields: Callable[[], dict[str, Any]] | None = None,
        readiness: Callable[[], Awaitable[str | None]] | None = None,
        tracer: Tracer | None = None,
    ):
        self.admin = admin
        self.name = admin.name
        self.name_bytes = admin.name_bytes
        self.watcher = watcher
        self.registration = registration
        self._fields = fields or dict
        self._readiness = readiness  # a problem in words, or None: the sidecar asks its app
        self.in_flight = 0
        self.tracer = tracer  # None: tracing off, and the handler is not wrapped at all
        self.listener_tls: dict[int, Any] = {}  # port -> gatemesh.security.tls.TlsListener (mTLS inbound)
        # GATEMESH_ACCESS_LOG_DIR / GATEMESH_ACCESS_LOG, read here at the process edge; None = off.
        self.access_log = accesslog.from_env(self.name, os.environ, str(self._fields().get("service", "")))

    # --- requests --------------------------------------------------------------------
    def handler(self, proxy: Proxy, route: Callable[[Request], Route], *, admin_api: bool = True) -> Handler:
        """The listener's handler: admin paths first, by a plain check, then the route.
        Without ``admin_api`` (a public or Toxiproxy-facing listener) only /health and /metrics
        are the proxy's own; /-/* is answered 404 like an unknown route (the admin listener has it)."""
        admin = self.admin if admin_api else _Hidden(self.admin, self.name_bytes)
        access = self.access_log  # off: one `is None` test per request
        monotonic = time.monotonic
        call, call_args, response_from = proxy.caller.call, proxy.call_args, proxy.response_from

        async def handle(req: Request) -> Response:
            path = req.path
            if path.startswith(ADMIN_PREFIX) or path in _OWN_PATHS:  # = is_admin_path, inlined: every request
                return await self.health() if path == HEALTH_PATH else admin.answer(req)
            started = monotonic() if access is not None else 0.0
            where = route(req)
            if where.__class__ is Response:
                if access is not None:
                    access.record(req, where, "", started)  # type: ignore[arg-type]
                return where  # type: ignore[return-value]
            self.in_flight += 1
            try:
                if where.__class__ is tuple:
                    service, target = where  # type: ignore[misc]
                    # `proxy.forward`, inline: one coroutine layer fewer on every request.
                    try:
                        resp = response_from(await call(service, *call_args(req, target)))
                    except Refusal as refusal:
                        resp = proxy.refused(refusal)
                else:
                    service = accesslog.COMPOSED
                    resp = await where  # type: ignore[misc]
            finally:
                self.in_flight -= 1
            if access is not None:
                access.record(req, resp, service, started)
            return resp

        return handle if self.tracer is None else self.tracer.wrap(handle, admin_api=admin_api)

    def admin_handler(self) -> Handler:
        """The admin listener's handler: the proxy's own paths and nothing routed."""
        admin = self.admin
        tracing = self.tracer.admin if self.tracer is not None else None

        async def handle(req: Request) -> Response:
            path = req.path
            if path == HEALTH_PATH:
                return await self.health()
            if path == TRACING_PATH and tracing is not None:
                return tracing(req)
            if path.startswith(ADMIN_PREFIX) or path == METRICS_PATH:
                return admin.answer(req)
            return refusal_response(
                Reason.NO_ROUTE,
                f"no admin endpoint at {path.decode('latin-1')}: this listener serves /-/*, /health and /metrics "
                "(routes are on the public listener)",
                self.name_bytes,
            )

        return handle

    def by_host(self, req: Request) -> Route:
        """East-west routing: the Host header names the service, the target is kept."""
        service = service_from_host(req)
        if service is None:
            return refusal_response(
                Reason.BAD_REQUEST,
                "east-west calls name the target service in the Host header (Host: pricing)",
                self.name_bytes,
            )
        return service, req.target

    def api_refusal(self, api: ApiManager, req: Request, route: str) -> Response | None:
        """The API-key guard: None when `api` lets the request through to `route`."""
        key = req.header(b"x-api-key")
        verdict = api.check(key.decode("latin-1") if key is not None else None, route)
        if verdict.allowed or verdict.reason is None:
            return None
        message = API_MESSAGES.get(verdict.reason, verdict.reason).format(route=route)
        return refusal_response(verdict.reason, message, self.name_bytes, retry_after_s=verdict.retry_after_s)

    # --- health ----------------------------------------------------------------------
    def fields(self) -> dict[str, Any]:
        snap = self.watcher.snapshot
        return {
            **self._fields(),
            "discovery": "connected" if self.watcher.connected else "disconnected",
            "snapshot_index": snap.index if snap else None,
        }

    async def health(self) -> Response:
        """Ready only with a service catalog (and, for a sidecar, a healthy app)."""
        if self.watcher.snapshot is None:
            return refusal_response(
                Reason.NO_HEALTHY_UPSTREAM,
                f"{self.name} has not reached the control plane yet (no service catalog)",
                self.name_bytes,
            )
        if self._readiness is not None:
            problem = await self._readiness()
            if problem is not None:
                return refusal_response(
                    Reason.NO_HEALTHY_UPSTREAM, f"{self.name} is not ready: {problem}", self.name_bytes
                )
        return json_response(200, {"status": "ok", "proxy": self.name, **self.fields()})

    # --- the process -----------------------------------------------------------------
    async def run(
        self,
        stop: asyncio.Event,
        listeners: Sequence[tuple[str, int, Handler] | tuple[str, int, Handler, ServerLimits]],
        callers: Sequence[ResilientCaller],
    ) -> None:
        """Serve until `stop` is set, then shut down in the documented order."""
        await self.watcher.start()
        # A listener may bring its own limits (a sidecar's inbound side: a shorter answer timeout).
        servers = [
            await serve(
                spec[2],
                spec[0],
                spec[1],
                proxy_name=self.name,
                limits=spec[3] if len(spec) > 3 else process_listener_limits(),
                tls=self.listener_tls.get(spec[1]),
            )  # type: ignore[misc]
            for spec in listeners
        ]
        if self.registration is not None:
            await self.registration.start()
        log.info("%s listening on %s", self.name, ", ".join(f"{spec[0]}:{spec[1]}" for spec in listeners))
        checks = [asyncio.create_task(c.health_check_loop(stop)) for c in callers]
        if self.access_log is not None:
            checks.append(asyncio.create_task(self.access_log.run(stop)))
        await stop.wait()
        if self.registration is not None:
            await self.registration.stop()
        for s in servers:
            s.close()
        await drain(lambda: self.in_flight)
        await asyncio.gather(*checks)
        await self.watcher.stop()
        if self.access_log is not None:
            self.access_log.close()  # the lines of the drained requests too
        for c in {id(c.pool): c for c in callers}.values():
            c.pool.close()
        if self.tracer is not None and not self.tracer.close(TRACE_FLUSH_LIMIT_S):  # bounded: a dead backend
            log.warning("%s: spans not exported within %.0f s of shutdown were dropped", self.name, TRACE_FLUSH_LIMIT_S)
