"""API composition at the edge: one product page from four services.

catalog and pricing are critical (no page without them → 503); inventory and reviews
are optional (a page without them is still worth showing → 200 with `degraded` naming
what is missing and `reasons` saying why). The same rule as the mesh's storefront, so
the two places can be compared on the same fault.

Each part is one resilient call, so a part gets everything a forwarded request gets —
fallback included. A page refused for a critical part says why in `X-Gatemesh-Reason`:
the first missing critical part's reason (`circuit-open`, `timeout`, ...), or
`upstream-error` when that part answered with an error of its own.
"""

from __future__ import annotations

import asyncio
import json

from gatemesh.http.messages import Headers, Request, Response, json_response
from gatemesh.patterns.deadline import Deadline
from gatemesh.pipeline import ResilientCaller
from gatemesh.proxy import Proxy
from gatemesh.reasons import Reason
from gatemesh.refusal import Refusal, to_response

PARTS = (  # (field in the page, service, path template, critical)
    ("product", "catalog", "/products/{id}", True),
    ("price", "pricing", "/prices/{id}", True),
    ("stock", "inventory", "/stock/{id}", False),
    ("reviews", "reviews", "/reviews/{id}", False),
)
PREFIX = b"/api/products/"


def product_id(path: bytes) -> str | None:
    """The id in /api/products/{id}, or None if the path is not that endpoint."""
    if not path.startswith(PREFIX):
        return None
    pid = path[len(PREFIX) :]
    return pid.decode("latin-1") if pid and b"/" not in pid else None


async def _part(
    caller: ResilientCaller, headers: Headers, deadline: Deadline | None, service: str, path: str
) -> tuple[int, object, str | None]:
    """(status, json or None, reason or None) for one part of the page."""
    try:
        result = await caller.call(service, b"GET", path.encode(), headers, b"", deadline)
    except Refusal as r:
        return (503 if r.status == 404 else r.status), None, r.reason
    body = result.body if result.response is None else await result.response.read()
    if result.status != 200:
        reason = result.reason or next((v.decode() for n, v in result.headers if n == b"x-gatemesh-reason"), None)
        if result.status == 404 and reason is None:
            return 404, None, None  # the service itself says: no such product
        return result.status, None, reason or f"http-{result.status}"
    try:
        return 200, json.loads(body), None
    except ValueError:
        return 502, None, Reason.UPSTREAM_ERROR


def page_reason(reason: str | None) -> Reason:
    """The page's X-Gatemesh-Reason for a missing critical part: the part's own reason when
    it is one of ours, else upstream-error (the part answered with an error of its own)."""
    try:
        return Reason(reason or "")
    except ValueError:
        return Reason.UPSTREAM_ERROR


async def compose_product(caller: ResilientCaller, proxy: Proxy, req: Request, pid: str) -> Response:
    if req.method != b"GET":
        return json_response(405, {"error": "the product page only answers GET"})
    if not pid.isdigit():
        return json_response(
            400,
            {"error": f"product id must be a positive integer, got {pid!r}"},
            [(b"x-gatemesh-reason", Reason.BAD_REQUEST.encode())],
        )
    try:
        deadline = proxy.incoming_deadline(req)
    except Refusal as r:
        return to_response(r, proxy.name_bytes)
    upstream_headers = proxy.outgoing_headers(req)
    results = await asyncio.gather(
        *(_part(caller, upstream_headers, deadline, svc, tpl.format(id=pid)) for _, svc, tpl, _ in PARTS)
    )
    page: dict = {"composed_by": proxy.name, "degraded": [], "reasons": {}}
    missing_critical: list[str] = []
    for (field, service, _, critical), (status, data, reason) in zip(PARTS, results, strict=True):
        page[field] = data
        if data is None:
            # Parts are named by service in degraded/missing/reasons, as the storefront does.
            page["reasons"][service] = reason
            if status == 404 and critical and reason is None:
                return json_response(404, {"error": f"product {pid} not found"})
            (missing_critical if critical else page["degraded"]).append(service)
    headers = [(b"x-gatemesh-proxy", proxy.name_bytes)]
    if missing_critical:
        return json_response(
            503,
            {
                "error": f"cannot build the product page without {', '.join(missing_critical)}",
                "missing": missing_critical,
                "reasons": page["reasons"],
            },
            headers + [(b"x-gatemesh-reason", page_reason(page["reasons"][missing_critical[0]]).encode())],
        )
    if page["degraded"]:
        headers.append((b"x-gatemesh-degraded", ",".join(page["degraded"]).encode()))
    return json_response(200, page, headers)
