"""inventory — a deterministic stock level for every product id.

    GET /stock/{id}  → {"product_id","quantity","in_stock","instance"}; 404 for id < 1, 400 not an integer

Ids that are multiples of 13 are out of stock, so the catalog has one (id 13).
"""

from __future__ import annotations

from aiohttp import web

from services.kit import ServiceError, path_int, reply, service_app

SERVICE = "inventory"


def quantity_of(product_id: int) -> int:
    """0..36 units, 0 exactly for multiples of 13."""
    return (product_id * 7) % 13 * 3


async def get_stock(request: web.Request) -> web.Response:
    product_id = path_int(request)
    if product_id < 1:
        raise ServiceError(404, f"no stock for product {product_id}: product ids start at 1")
    quantity = quantity_of(product_id)
    return reply(request, {"product_id": product_id, "quantity": quantity, "in_stock": quantity > 0})


def make_app(instance: str) -> web.Application:
    app = service_app(SERVICE, instance)
    app.router.add_get("/stock/{id}", get_stock)
    return app
