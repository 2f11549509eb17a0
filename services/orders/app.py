"""orders — the write path, deduplicated by ``Idempotency-Key``.

    POST /orders {"product_id": int > 0, "quantity": 1..100}   (+ Idempotency-Key: 1..200 chars)
        new order                          → 201 {"id","product_id","quantity","idempotency_key",
                                                  "created_by","created_at","instance"} + Location
        same key, same order (any instance) → 200, the same order + Idempotent-Replayed: true
        same key, different order           → 422 with a sentence
        no key                              → a new order every time (201)
    GET /orders?limit=100&offset=0 → {"orders": [...], "count": <all orders>, "instance"}
    GET /orders/{id}               → the order; 404 unknown, 400 not an integer

All instances share one SQLite file (``--db``); see store.py for why that is race-safe.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from aiohttp import web

from services.kit import INFO, ServiceError, StartupError, path_int, read_json, reply, service_app
from services.orders.store import OrderStore

SERVICE = "orders"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_CHARS = 200
MAX_QUANTITY = 100
MAX_PRODUCT_ID = 2**31 - 1
DEFAULT_PAGE = 100
MAX_PAGE = 1000

STORE = web.AppKey("orders.store", OrderStore)
DB_PATH = web.AppKey("orders.db_path", str)


def _int_field(body: dict, name: str, low: int, high: int) -> int:
    if name not in body:
        raise ServiceError(400, f"{name} is required: an integer from {low} to {high}")
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ServiceError(400, f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def parse_order(body: Any) -> tuple[int, int]:
    if not isinstance(body, dict):
        raise ServiceError(400, 'the body must be a JSON object such as {"product_id": 1, "quantity": 2}')
    unknown = sorted(set(body) - {"product_id", "quantity"})
    if unknown:
        raise ServiceError(400, f"unknown field {unknown[0]!r}; an order has only product_id and quantity")
    return _int_field(body, "product_id", 1, MAX_PRODUCT_ID), _int_field(body, "quantity", 1, MAX_QUANTITY)


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= MAX_KEY_CHARS:
        raise ServiceError(400, f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_CHARS} characters, got {len(key)}")
    return key


async def post_order(request: web.Request) -> web.Response:
    product_id, quantity = parse_order(await read_json(request))
    key = idempotency_key(request)
    store = request.app[STORE]
    order, created = await asyncio.to_thread(store.create, product_id, quantity, key, request.app[INFO].instance)
    if created:
        return reply(request, order.to_json(), status=201, headers={"Location": f"/orders/{order.id}"})
    if (order.product_id, order.quantity) != (product_id, quantity):
        raise ServiceError(
            422,
            f"{IDEMPOTENCY_HEADER} {key!r} was already used for a different order"
            f" (product_id {order.product_id}, quantity {order.quantity}); use a new key for a new order",
        )
    return reply(request, order.to_json(), status=200, headers={REPLAYED_HEADER: "true"})


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ServiceError(400, f"query parameter {name} must be an integer from {low} to {high}, got {text!r}")
    return int(text)


async def list_orders(request: web.Request) -> web.Response:
    limit = _query_int(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _query_int(request, "offset", 0, 0, 2**62)
    orders, count = await asyncio.to_thread(request.app[STORE].list, limit, offset)
    return reply(request, {"orders": [o.to_json() for o in orders], "count": count})


async def get_order(request: web.Request) -> web.Response:
    order_id = path_int(request, what="order id")
    order = await asyncio.to_thread(request.app[STORE].get, order_id)
    if order is None:
        raise ServiceError(404, f"no order with id {order_id}")
    return reply(request, order.to_json())


async def _store(app: web.Application):
    path = app[DB_PATH]
    try:
        store = await asyncio.to_thread(OrderStore, path)
    except sqlite3.Error as exc:
        raise StartupError(f"cannot open the orders database {path}: {exc}") from None
    app[STORE] = store
    yield
    await asyncio.to_thread(store.close)


def make_app(instance: str, db_path: str) -> web.Application:
    app = service_app(SERVICE, instance)
    app[DB_PATH] = db_path
    app.cleanup_ctx.append(_store)
    app.router.add_post("/orders", post_order)
    app.router.add_get("/orders", list_orders)
    app.router.add_get("/orders/{id}", get_order)
    return app
