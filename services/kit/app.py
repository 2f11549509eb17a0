"""The application every service starts from: middleware, /health and /admin/*.

Middleware, outermost first:
  sidecar_only    behind a sidecar: refuses calls that went around it (guard.py; off
                  unless the runner handed the app a secret)
  count_requests  counts non-admin, non-health requests and the status they got
  json_errors     turns every failure (aiohttp's 404/405/413, ServiceError, a crash)
                  into a JSON body; a crash is logged and answered 500
  misbehave       applies the /admin/misbehave knob to non-admin, non-health requests
and a response hook stamps ``X-Instance`` on every response.
"""

from __future__ import annotations

import logging
import random

from aiohttp import web

from services.kit.admin import MisbehaveConfig, Misbehaviour, Stats, is_exempt
from services.kit.guard import sidecar_only
from services.kit.http import INFO, MAX_BODY_BYTES, ServiceError, ServiceInfo, error_response, read_json, reply

INSTANCE_HEADER = "X-Instance"
STATS = web.AppKey("services.kit.stats", Stats)
MISBEHAVIOUR = web.AppKey("services.kit.misbehaviour", Misbehaviour)

log = logging.getLogger("services.kit")


@web.middleware
async def count_requests(request: web.Request, handler):
    if is_exempt(request.path):
        return await handler(request)
    stats = request.app[STATS]
    stats.count(request.path, "X-Api-Key" in request.headers or "Authorization" in request.headers)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # only non-errors get here (json_errors answers the rest)
        stats.answered(exc.status)
        raise
    stats.answered(response.status)
    return response


def _describe(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"not found: this service has no {request.path}"
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        return f"method {request.method} is not allowed on {request.path}; allowed: {allowed}"
    if exc.status == 413:
        return f"the request body is too large: the limit is {MAX_BODY_BYTES} bytes (1 MiB)"
    return exc.reason


@web.middleware
async def json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ServiceError as exc:
        return error_response(request, exc.status, exc.message, exc.headers, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect or the like: not an error
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return error_response(request, exc.status, _describe(request, exc), headers)
    except Exception:
        log.exception("unhandled error answering %s %s", request.method, request.path)
        return error_response(request, 500, "internal error: the service failed on this request (see its log)")


@web.middleware
async def misbehave(request: web.Request, handler):
    if not is_exempt(request.path):
        misbehaviour = request.app[MISBEHAVIOUR]
        status = await misbehaviour.apply()
        if status is not None:
            rate = misbehaviour.config.error_rate
            return error_response(request, status, f"misbehaving on purpose (error_rate {rate:g})", misbehave=True)
    return await handler(request)


async def _stamp_instance(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[INSTANCE_HEADER] = request.app[INFO].instance


async def health(request: web.Request) -> web.Response:
    return reply(request, {"status": "ok", "service": request.app[INFO].service})


async def get_misbehave(request: web.Request) -> web.Response:
    return reply(request, request.app[MISBEHAVIOUR].config.to_json())


async def put_misbehave(request: web.Request) -> web.Response:
    try:
        config = MisbehaveConfig.from_json(await read_json(request))
    except (TypeError, ValueError) as exc:
        raise ServiceError(400, str(exc)) from None
    request.app[MISBEHAVIOUR].set(config)
    log.info("misbehave set to %s", config.to_json())
    return reply(request, config.to_json())


async def delete_misbehave(request: web.Request) -> web.Response:
    request.app[MISBEHAVIOUR].reset()
    log.info("misbehave reset")
    return reply(request, request.app[MISBEHAVIOUR].config.to_json())


async def get_stats(request: web.Request) -> web.Response:
    return reply(request, request.app[STATS].snapshot())


async def delete_stats(request: web.Request) -> web.Response:
    return reply(request, request.app[STATS].reset())


def service_app(service: str, instance: str, *, rng: random.Random | None = None) -> web.Application:
    """A new app for ``service`` with the kit's middleware and routes; add yours to it."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[sidecar_only, count_requests, json_errors, misbehave]
    )
    app[INFO] = ServiceInfo(service, instance)
    app[STATS] = Stats()
    app[MISBEHAVIOUR] = Misbehaviour(rng)
    app.on_response_prepare.append(_stamp_instance)
    app.router.add_get("/health", health)
    app.router.add_get("/admin/misbehave", get_misbehave)
    app.router.add_put("/admin/misbehave", put_misbehave)
    app.router.add_delete("/admin/misbehave", delete_misbehave)
    app.router.add_get("/admin/stats", get_stats)
    app.router.add_delete("/admin/stats", delete_stats)
    return app
