"""pricing — a deterministic price for every product id.

    GET /prices/{id}  → {"product_id","price","currency","instance"}; 404 for id < 1, 400 not an integer

Any positive id has a price (the catalog decides which products exist).
"""

from __future__ import annotations

from aiohttp import web

from services.kit import ServiceError, path_int, reply, service_app

SERVICE = "pricing"
CURRENCY = "EUR"


def price_of(product_id: int) -> float:
    """From 4.99 to 154.98, the same for an id on every instance and every run."""
    cents = 499 + (product_id * 7919) % 15000
    return round(cents / 100, 2)


async def get_price(request: web.Request) -> web.Response:
    product_id = path_int(request)
    if product_id < 1:
        raise ServiceError(404, f"no price for product {product_id}: product ids start at 1")
    return reply(request, {"product_id": product_id, "price": price_of(product_id), "currency": CURRENCY})


def make_app(instance: str) -> web.Application:
    app = service_app(SERVICE, instance)
    app.router.add_get("/prices/{id}", get_price)
    return app
