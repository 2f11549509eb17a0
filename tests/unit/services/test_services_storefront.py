"""storefront: composition through --outbound, degraded answers, reasons, deadlines.

The storefront's --outbound points at a small Host-routing fake (what a sidecar or the
gateway's internal listener is in a real topology) that forwards to the real atomic
services, unless a test overrides what a service answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from aiohttp import web

from services.catalog.app import make_app as catalog_app
from services.inventory.app import make_app as inventory_app
from services.pricing.app import make_app as pricing_app
from services.reviews.app import make_app as reviews_app
from services.storefront.app import make_app as storefront_app

DEADLINE = "X-Gatemesh-Deadline-Ms"
REASON = "X-Gatemesh-Reason"


class Router:
    def __init__(self, upstreams) -> None:
        self.upstreams = upstreams  # service name → TestClient of the real app
        self.overrides = {}  # service name → handler answering instead
        self.seen: list[tuple[str, str, str | None]] = []  # (Host, path, deadline header)
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        self.seen.append((host, request.path, request.headers.get(DEADLINE)))
        if host in self.overrides:
            return await self.overrides[host](request)
        if host not in self.upstreams:
            return web.json_response({"error": "no such service"}, status=503, headers={REASON: "unknown-service"})
        resp = await self.upstreams[host].get(request.path)
        return web.Response(body=await resp.read(), status=resp.status, content_type="application/json")


@contextlib.asynccontextmanager
async def stack(serve, **storefront_kw):
    apps = {"catalog": catalog_app, "pricing": pricing_app, "inventory": inventory_app, "reviews": reviews_app}
    async with contextlib.AsyncExitStack() as exits:
        upstreams = {name: await exits.enter_async_context(serve(make(f"{name}-1"))) for name, make in apps.items()}
        router = Router(upstreams)
        router_client = await exits.enter_async_context(serve(router.app))
        outbound = str(router_client.make_url("/"))
        storefront = await exits.enter_async_context(serve(storefront_app("storefront-1", outbound, **storefront_kw)))
        yield storefront, router


def answer(status: int, reason: str | None = None, delay_s: float = 0.0):
    async def handler(request: web.Request) -> web.Response:
        if delay_s:
            await asyncio.sleep(delay_s)
        headers = {REASON: reason} if reason else {}
        return web.json_response({"error": "injected"}, status=status, headers=headers)

    return handler


def test_full_page_names_each_service_in_host_and_uses_its_own_path(run, serve):
    async def scenario():
        async with stack(serve) as (storefront, router):
            resp = await storefront.get("/products/3")
            assert resp.status == 200 and resp.headers["X-Instance"] == "storefront-1"
            page = await resp.json()
            assert page["product"]["id"] == 3 and page["product"]["instance"] == "catalog-1"
            assert page["price"]["product_id"] == 3 and page["stock"]["product_id"] == 3
            assert len(page["reviews"]["reviews"]) == 3
            assert page["degraded"] == [] and page["reasons"] == {} and page["instance"] == "storefront-1"
            assert page["composed_by"] == "storefront-1"  # the same shape as the gateway's composed page
            assert sorted((host, path) for host, path, _ in router.seen) == [
                ("catalog", "/products/3"),
                ("inventory", "/stock/3"),
                ("pricing", "/prices/3"),
                ("reviews", "/reviews/3"),
            ]

    run(scenario())


def test_optional_part_failing_degrades_with_its_reason(run, serve):
    async def scenario():
        async with stack(serve) as (storefront, router):
            router.overrides["reviews"] = answer(503, reason="circuit-open")
            router.overrides["inventory"] = answer(500)
            resp = await storefront.get("/products/1")
            assert resp.status == 200
            page = await resp.json()
            assert page["reviews"] is None and page["stock"] is None
            assert page["degraded"] == ["inventory", "reviews"]
            assert page["reasons"] == {"inventory": "http-500", "reviews": "circuit-open"}
            assert page["product"]["id"] == 1 and page["price"] is not None

    run(scenario())


def test_critical_part_failing_is_503_naming_what_is_missing(run, serve):
    async def scenario():
        async with stack(serve) as (storefront, router):
            router.overrides["pricing"] = answer(503, reason="no-healthy-upstream")
            router.overrides["reviews"] = answer(500)
            resp = await storefront.get("/products/1")
            assert resp.status == 503
            body = await resp.json()
            assert body["missing"] == ["pricing"] and body["degraded"] == ["reviews"]
            assert body["reasons"] == {"pricing": "no-healthy-upstream", "reviews": "http-500"}
            assert "pricing" in body["error"]

    run(scenario())


def test_unknown_product_is_404_but_a_proxy_404_is_a_failure(run, serve):
    async def scenario():
        async with stack(serve) as (storefront, router):
            resp = await storefront.get("/products/99")
            assert resp.status == 404 and "99" in (await resp.json())["error"]
            router.overrides["catalog"] = answer(404, reason="no-route")
            resp = await storefront.get("/products/1")
            assert resp.status == 503
            assert (await resp.json())["reasons"] == {"catalog": "no-route"}
            assert (await storefront.get("/products/one")).status == 400

    run(scenario())


def test_deadline_is_passed_on_shortened_and_bounds_the_wait(run, serve):
    async def scenario():
        async with stack(serve) as (storefront, router):
            resp = await storefront.get("/products/2", headers={DEADLINE: "2000"})
            assert resp.status == 200
            passed = [int(d) for _, _, d in router.seen]
            assert len(passed) == 4 and all(1000 < d <= 2000 for d in passed)

            router.overrides["reviews"] = answer(200, delay_s=5)
            started = time.monotonic()
            resp = await storefront.get("/products/2", headers={DEADLINE: "300"})
            assert time.monotonic() - started < 1.5
            page = await resp.json()
            assert resp.status == 200 and page["reasons"] == {"reviews": "deadline-exceeded"}

    run(scenario())


def test_expired_deadline_makes_no_calls(run, serve):
    async def scenario():
        async with stack(serve) as (storefront, router):
            resp = await storefront.get("/products/2", headers={DEADLINE: "0"})
            assert resp.status == 503
            assert set((await resp.json())["reasons"].values()) == {"deadline-exceeded"}
            assert router.seen == []

    run(scenario())


def test_own_call_timeout_ends_a_hanging_part_without_a_deadline(run, serve):
    async def scenario():
        async with stack(serve, call_timeout_s=0.2) as (storefront, router):
            router.overrides["inventory"] = answer(200, delay_s=5)
            started = time.monotonic()
            resp = await storefront.get("/products/2")
            assert time.monotonic() - started < 1.5
            page = await resp.json()
            assert page["degraded"] == ["inventory"] and page["reasons"] == {"inventory": "timeout"}
            assert router.seen[0][2] is None  # no deadline came in, none goes out

    run(scenario())


def test_unreachable_outbound_is_503_connect_failed(run, serve):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"

    async def scenario():
        async with serve(storefront_app("storefront-1", dead)) as storefront:
            resp = await storefront.get("/products/1")
            assert resp.status == 503
            body = await resp.json()
            assert body["missing"] == ["catalog", "pricing"]
            assert set(body["reasons"].values()) == {"connect-failed"}

    run(scenario())


def test_non_json_part_is_a_bad_response(run, serve):
    async def not_json(request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>", content_type="text/html")

    async def scenario():
        async with stack(serve) as (storefront, router):
            router.overrides["reviews"] = not_json
            page = await (await storefront.get("/products/1")).json()
            assert page["reasons"] == {"reviews": "bad-response"}

    run(scenario())
