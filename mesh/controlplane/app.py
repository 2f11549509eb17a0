"""The control plane's aiohttp application: routes, the JSON-error middleware, the TTL
sweeper, and releasing parked long-polls on shutdown."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gatemesh.reasons import Reason
from gatemesh.security.ca import CertificateAuthority, Root
from gatemesh.security.credentials import Credentials
from gatemesh.security.jwt import Issuer
from mesh.controlplane import api
from mesh.controlplane.admission import AddressRefused, AddressRules
from mesh.controlplane.api import CA, INDEX_HEADER, ISSUER, METRICS, RULES, STORE, error
from mesh.controlplane.auth import CREDENTIALS, authenticate, refuse
from mesh.controlplane.metrics import Metrics
from mesh.controlplane.store import Store

log = logging.getLogger("gatemesh.controlplane")

DEFAULT_SWEEP_INTERVAL_S = 0.5  # how often lapsed TTLs are looked for


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Every refusal as JSON, every answer with the index, every request counted."""
    try:
        response = await handler(request)
    except AddressRefused as exc:  # a policy refusal, not a typo: 403 naming the rule
        response = refuse(403, Reason.ADDRESS_REFUSED, str(exc), rule=exc.rule)
    except ValueError as exc:  # BadRequest, and the registry's input checks
        response = error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error(exc.status, f"{exc.reason}: {request.method} {request.path}.")
        if "Allow" in exc.headers:  # a 405 must say which methods the path has (RFC 9110; schemathesis)
            response.headers["Allow"] = exc.headers["Allow"]
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - the API must answer JSON, never a traceback
        log.exception("error handling %s %s", request.method, request.path)
        response = error(500, f"internal error: {type(exc).__name__}: {exc}.")
    if INDEX_HEADER not in response.headers:
        response.headers[INDEX_HEADER] = str(request.app[STORE].index)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    request.app[METRICS].http_requests.labels(request.method, route, str(response.status)).inc()
    return response


def make_app(
    store: Store,
    sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S,
    credentials: Credentials | None = None,
    rules: AddressRules | None = None,
    issuer: Issuer | None = None,
    ca: CertificateAuthority | None = None,
) -> web.Application:
    """The API; ``credentials=None`` leaves writes open (only ``--open`` asks for that)."""
    app = web.Application(middlewares=[json_errors, authenticate])  # refusals counted and indexed too
    app[STORE] = store
    app[RULES] = rules or AddressRules()
    app[ISSUER] = issuer or Issuer.generate()  # without a file: keys for this process's life
    app[CA] = ca or CertificateAuthority([Root.generate(1)])
    if credentials is not None:
        app[CREDENTIALS] = credentials
    app[METRICS] = Metrics(store)
    app[api.REDACTED] = [-1, b""]  # the snapshot without API keys, for readers without a credential
    instance = "/v1/services/{service}/instances/{instance}"
    app.router.add_routes(
        [
            web.get("/health", api.health),
            web.get("/metrics", api.metrics),
            web.get("/v1/services", api.list_services),
            web.get("/v1/services/{service}", api.get_service),
            web.put(instance, api.register),
            web.put(instance + "/heartbeat", api.heartbeat),
            web.delete(instance, api.deregister),
            web.get("/v1/snapshot", api.snapshot),
            web.get("/v1/policies", api.list_policies),
            web.get("/v1/policies/{service}", api.get_policy),
            web.put("/v1/policies/{service}", api.put_policy),
            web.delete("/v1/policies/{service}", api.delete_policy),
            web.get("/v1/apimgmt", api.get_apimgmt),
            web.put("/v1/apimgmt", api.put_apimgmt),
            web.get("/v1/events", api.events),
            web.get("/v1/authz", api.get_authz),
            web.put("/v1/authz", api.put_authz),
            web.get("/v1/jwks", api.jwks),
            web.post("/v1/tokens", api.mint_token),
            web.post("/v1/certificates", api.issue_certificate),
            web.get("/v1/trust-bundle", api.trust_bundle),
            web.post("/v1/ca/rotate", api.rotate_root),
            web.post("/v1/ca/retire", api.retire_roots),
            web.get("/v1/openapi.json", api.openapi),
        ]
    )

    async def sweeper(app: web.Application):
        task = asyncio.create_task(sweep(store, sweep_interval_s), name="controlplane-sweeper")
        yield
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def release_waiters(app: web.Application) -> None:
        store.close()

    app.cleanup_ctx.append(sweeper)
    app.on_shutdown.append(release_waiters)
    return app


STALL_GRACE_S = 1.0  # a sweep late by more than this means the control plane itself was not running


async def sweep(store: Store, interval_s: float) -> None:
    """Remove instances whose TTL lapsed, every ``interval_s``; never dies on an error."""
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        await asyncio.sleep(interval_s)
        now = loop.time()
        stalled = now - last - interval_s
        last = now
        try:
            if stalled > STALL_GRACE_S:
                # We were frozen (SIGSTOP, a starved machine): heartbeats sent meanwhile
                # never reached us, so expiring now would drop every healthy instance at
                # once. Give them the lost time back; the dead ones still expire after it.
                store.registry.extend_all(stalled)
                log.warning("sweeper stalled %.1fs (paused?); TTLs extended by that much", stalled)
            store.expire()
        except Exception:  # noqa: BLE001
            log.exception("sweeper failed; trying again in %.1fs", interval_s)
