"""The atomic services: catalog, pricing, inventory, reviews."""

from __future__ import annotations

from services.catalog.app import make_app as catalog_app
from services.inventory.app import make_app as inventory_app
from services.pricing.app import make_app as pricing_app
from services.reviews.app import make_app as reviews_app


def test_catalog_lists_twenty_products(run, serve):
    async def scenario():
        async with serve(catalog_app("catalog-1")) as client:
            body = await (await client.get("/products")).json()
            assert [p["id"] for p in body["products"]] == list(range(1, 21))
            assert body["instance"] == "catalog-1"
            assert set(body["products"][0]) == {"id", "name", "description"}

    run(scenario())


def test_catalog_product_unknown_and_non_integer(run, serve):
    async def scenario():
        async with serve(catalog_app("catalog-1")) as client:
            body = await (await client.get("/products/7")).json()
            assert body["id"] == 7 and body["name"] and body["instance"] == "catalog-1"
            for path, status in (
                ("/products/21", 404),
                ("/products/0", 404),
                ("/products/abc", 400),
                ("/products/1_0", 400),
            ):
                resp = await client.get(path)
                assert resp.status == status, path
                assert "error" in await resp.json()

    run(scenario())


def test_atomic_data_is_deterministic_across_instances(run, serve):
    cases = [(pricing_app, "/prices/5"), (inventory_app, "/stock/5"), (reviews_app, "/reviews/5")]

    async def scenario():
        for make_app, path in cases:
            async with serve(make_app("x-1")) as one, serve(make_app("x-2")) as two:
                a, b = await (await one.get(path)).json(), await (await two.get(path)).json()
                assert a.pop("instance") == "x-1" and b.pop("instance") == "x-2"
                assert a == b and a["product_id"] == 5

    run(scenario())


def test_atomic_bodies_follow_the_contract(run, serve):
    async def scenario():
        async with serve(pricing_app("p")) as p, serve(inventory_app("i")) as i, serve(reviews_app("r")) as r:
            price = await (await p.get("/prices/1")).json()
            assert set(price) == {"product_id", "price", "currency", "instance"} and price["price"] > 0
            stock = await (await i.get("/stock/13")).json()
            assert stock == {"product_id": 13, "quantity": 0, "in_stock": False, "instance": "i"}
            reviews = await (await r.get("/reviews/3")).json()
            assert len(reviews["reviews"]) == 3 and 1 <= reviews["rating"] <= 5
            assert (await (await r.get("/reviews/4")).json())["rating"] is None
            for client, path in ((p, "/prices/0"), (i, "/stock/-1"), (r, "/reviews/0")):
                assert (await client.get(path)).status == 404
            for client, path in ((p, "/prices/x"), (i, "/stock/1.5"), (r, "/reviews/%20")):
                assert (await client.get(path)).status == 400

    run(scenario())
