"""storefront — the product page: catalog + pricing + inventory + reviews, concurrently.

    GET /products/{id} → 200 {"composed_by","product","price","stock","reviews","degraded","reasons","instance"}
                         404 when the catalog has no such product
                         503 {"error","missing","degraded","reasons"} when a critical part failed

Every call goes to ``--outbound`` with the target service in the ``Host`` header and
the service's own path (``Host: pricing``, ``GET /prices/1``), over one shared
keep-alive session. catalog and pricing are critical; inventory and reviews are
optional: when one fails its part is null and its service is listed in ``degraded``.
``reasons`` says why each failed part failed: the ``X-Gatemesh-Reason`` a proxy gave,
else ``http-<status>``, ``timeout``, ``deadline-exceeded``, ``connect-failed``,
``upstream-error`` or ``bad-response``.

An incoming ``X-Gatemesh-Deadline-Ms`` is copied (the remaining part of it) onto every
call, and no call waits past it; without one, each call still ends after
CALL_TIMEOUT_S so the page never hangs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from services.kit import DEADLINE_HEADER, INFO, Deadline, ServiceError, path_int, reply, service_app

SERVICE = "storefront"
REASON_HEADER = "X-Gatemesh-Reason"
CALL_TIMEOUT_S = 10.0  # a call with no deadline still ends after this
MAX_CONNECTIONS = 100  # the shared session's pool


@dataclass(frozen=True)
class Config:
    outbound: str  # base URL, no trailing slash
    call_timeout_s: float = CALL_TIMEOUT_S


CONFIG = web.AppKey("storefront.config", Config)
SESSION = web.AppKey("storefront.session", aiohttp.ClientSession)


@dataclass(frozen=True)
class Part:
    key: str  # where it goes in the page
    service: str  # the Host header, and its name in degraded/missing/reasons
    path: str  # the service's own path, {id} filled in
    critical: bool


PARTS = (
    Part("product", "catalog", "/products/{id}", critical=True),
    Part("price", "pricing", "/prices/{id}", critical=True),
    Part("stock", "inventory", "/stock/{id}", critical=False),
    Part("reviews", "reviews", "/reviews/{id}", critical=False),
)


@dataclass(frozen=True)
class Outcome:
    body: dict | None = None  # the part, when it came
    reason: str | None = None  # why not, when it did not
    status: int | None = None  # the HTTP status, when there was an answer
    proxied: bool = False  # a proxy answered itself (it sent a reason header)


async def fetch(
    session: aiohttp.ClientSession,
    outbound: str,
    part: Part,
    product_id: int,
    deadline: Deadline | None,
    timeout_s: float,
) -> Outcome:
    headers = {"Host": part.service, "Accept": "application/json"}
    wait_s, bound = timeout_s, "timeout"
    if deadline is not None:
        if deadline.expired():
            return Outcome(reason="deadline-exceeded")
        headers[DEADLINE_HEADER] = deadline.header_value()
        if deadline.remaining_s() <= wait_s:
            wait_s, bound = deadline.remaining_s(), "deadline-exceeded"
    url = outbound + part.path.format(id=product_id)
    try:
        async with asyncio.timeout(wait_s):
            async with session.get(url, headers=headers) as resp:
                reason = resp.headers.get(REASON_HEADER)
                if resp.status != 200:
                    return Outcome(
                        reason=reason or f"http-{resp.status}", status=resp.status, proxied=reason is not None
                    )
                body = await resp.json(content_type=None)
    except TimeoutError:
        return Outcome(reason=bound)
    except aiohttp.ClientConnectorError:
        return Outcome(reason="connect-failed")
    except aiohttp.ClientError:
        return Outcome(reason="upstream-error")
    except ValueError:  # not JSON
        return Outcome(reason="bad-response", status=200)
    if not isinstance(body, dict):
        return Outcome(reason="bad-response", status=200)
    return Outcome(body=body, status=200)


async def product_page(request: web.Request) -> web.Response:
    product_id = path_int(request)
    deadline = Deadline.from_headers(request.headers)
    config = request.app[CONFIG]
    session = request.app[SESSION]
    outcomes = await asyncio.gather(
        *(fetch(session, config.outbound, part, product_id, deadline, config.call_timeout_s) for part in PARTS)
    )
    by_part = dict(zip(PARTS, outcomes, strict=False))

    catalog = by_part[PARTS[0]]
    if catalog.status == 404 and not catalog.proxied:  # the catalog itself says: no such product
        raise ServiceError(404, f"no product with id {product_id}")

    failed = [part for part, outcome in by_part.items() if outcome.body is None]
    reasons = {part.service: by_part[part].reason for part in failed}
    missing = [part.service for part in failed if part.critical]
    degraded = [part.service for part in failed if not part.critical]
    if missing:
        raise ServiceError(
            503,
            f"the product page needs {' and '.join(missing)}, which failed",
            missing=missing,
            degraded=degraded,
            reasons=reasons,
        )
    page: dict[str, Any] = {part.key: by_part[part].body for part in PARTS}
    # The same shape as the page the gateway composes: who composed it, what is missing, why.
    return reply(request, {"composed_by": request.app[INFO].instance, **page, "degraded": degraded, "reasons": reasons})


async def _session(app: web.Application):
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        app[SESSION] = session
        yield


def make_app(instance: str, outbound: str, *, call_timeout_s: float = CALL_TIMEOUT_S) -> web.Application:
    app = service_app(SERVICE, instance)
    app[CONFIG] = Config(outbound.rstrip("/"), call_timeout_s)
    app.cleanup_ctx.append(_session)
    app.router.add_get("/products/{id}", product_page)
    return app
