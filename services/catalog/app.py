"""catalog — a fixed catalog of 20 products, ids 1..20.

GET /products       → {"products": [{"id","name","description"}, ...], "instance"}
GET /products/{id}  → {"id","name","description","instance"}; 404 unknown, 400 not an integer
"""

from __future__ import annotations

from aiohttp import web

from services.kit import ServiceError, path_int, reply, service_app

SERVICE = "catalog"

PRODUCTS: dict[int, tuple[str, str]] = {
    1: ("Trail running shoes", "Light shoes with a grippy sole for muddy paths."),
    2: ("Rain jacket", "A packable, waterproof shell with taped seams."),
    3: ("Day pack 20 l", "A small backpack with a hydration sleeve."),
    4: ("Headlamp", "300 lumens, rechargeable over USB-C."),
    5: ("Water bottle", "Insulated steel, keeps drinks cold for a day."),
    6: ("Merino socks", "Warm when wet, and they do not smell."),
    7: ("Trekking poles", "Folding aluminium poles with cork grips."),
    8: ("Camping stove", "A small gas stove that boils a litre in four minutes."),
    9: ("Sleeping bag", "Rated to -5 °C, packs to the size of a melon."),
    10: ("Tent, two person", "A free-standing tent under two kilograms."),
    11: ("Sunglasses", "Category 3 lenses for bright snow and water."),
    12: ("Trail map set", "Waterproof maps of three national parks."),
    13: ("First aid kit", "Plasters, tape, blister pads and a foil blanket."),
    14: ("Fleece pullover", "A warm mid layer that dries fast."),
    15: ("Gaiters", "Keep stones and snow out of your boots."),
    16: ("Compass", "A baseplate compass with a declination scale."),
    17: ("Power bank", "10 000 mAh, enough for three phone charges."),
    18: ("Bivvy bag", "An emergency shelter weighing 120 grams."),
    19: ("Camp mug", "Titanium, 450 ml, with a folding handle."),
    20: ("Hiking boots", "Leather boots with a waterproof membrane."),
}


def product(product_id: int) -> dict:
    name, description = PRODUCTS[product_id]
    return {"id": product_id, "name": name, "description": description}


async def list_products(request: web.Request) -> web.Response:
    return reply(request, {"products": [product(i) for i in sorted(PRODUCTS)]})


async def get_product(request: web.Request) -> web.Response:
    product_id = path_int(request)
    if product_id not in PRODUCTS:
        raise ServiceError(404, f"no product with id {product_id} (the catalog has ids 1..{len(PRODUCTS)})")
    return reply(request, product(product_id))


def make_app(instance: str) -> web.Application:
    app = service_app(SERVICE, instance)
    app.router.add_get("/products", list_products)
    app.router.add_get("/products/{id}", get_product)
    return app
