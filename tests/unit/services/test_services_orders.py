"""orders: idempotent writes on a SQLite file shared by every instance."""

from __future__ import annotations

import asyncio
import threading

from services.orders.app import make_app
from services.orders.store import OrderStore

ORDER = {"product_id": 3, "quantity": 2}


def test_first_post_creates_and_same_key_replays_the_same_order(run, serve, tmp_path):
    async def scenario():
        async with serve(make_app("orders-1", str(tmp_path / "o.db"))) as client:
            first = await client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
            assert first.status == 201
            created = await first.json()
            assert created["idempotency_key"] == "k-1" and created["created_by"] == "orders-1"
            assert first.headers["Location"] == f"/orders/{created['id']}"
            assert "Idempotent-Replayed" not in first.headers

            again = await client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
            assert again.status == 200
            assert again.headers["Idempotent-Replayed"] == "true"
            assert await again.json() == created

    run(scenario())


def test_replay_on_another_instance_returns_the_same_order(run, serve, tmp_path):
    db = str(tmp_path / "o.db")

    async def scenario():
        async with serve(make_app("orders-1", db)) as one, serve(make_app("orders-2", db)) as two:
            created = await (await one.post("/orders", json=ORDER, headers={"Idempotency-Key": "k"})).json()
            resp = await two.post("/orders", json=ORDER, headers={"Idempotency-Key": "k"})
            replayed = await resp.json()
            assert resp.status == 200 and replayed["instance"] == "orders-2"
            assert {**replayed, "instance": "orders-1"} == created  # same order, another responder

    run(scenario())


def test_same_key_with_a_different_body_is_422(run, serve, tmp_path):
    async def scenario():
        async with serve(make_app("orders-1", str(tmp_path / "o.db"))) as client:
            await client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k"})
            resp = await client.post("/orders", json={"product_id": 3, "quantity": 9}, headers={"Idempotency-Key": "k"})
            assert resp.status == 422
            assert "different order" in (await resp.json())["error"]
            assert (await (await client.get("/orders")).json())["count"] == 1

    run(scenario())


def test_without_a_key_every_post_is_a_new_order(run, serve, tmp_path):
    async def scenario():
        async with serve(make_app("orders-1", str(tmp_path / "o.db"))) as client:
            ids = []
            for _ in range(3):
                resp = await client.post("/orders", json=ORDER)
                assert resp.status == 201
                ids.append((await resp.json())["id"])
            assert len(set(ids)) == 3
            listing = await (await client.get("/orders")).json()
            assert listing["count"] == 3 and [o["id"] for o in listing["orders"]] == ids

    run(scenario())


def test_concurrent_same_key_posts_on_two_instances_make_one_row(run, serve, tmp_path):
    db = str(tmp_path / "o.db")

    async def scenario():
        async with serve(make_app("orders-1", db)) as one, serve(make_app("orders-2", db)) as two:
            posts = [
                client.post("/orders", json=ORDER, headers={"Idempotency-Key": "race"})
                for _ in range(10)
                for client in (one, two)
            ]
            responses = await asyncio.gather(*posts)
            statuses = sorted(r.status for r in responses)
            bodies = [await r.json() for r in responses]
            assert statuses == [200] * 19 + [201]
            assert len({b["id"] for b in bodies}) == 1
            assert (await (await one.get("/orders")).json())["count"] == 1

    run(scenario())


def test_stores_opening_a_fresh_file_at_once_all_succeed(tmp_path):
    db = str(tmp_path / "fresh.db")
    errors: list[BaseException] = []
    stores: list[OrderStore] = []
    start = threading.Barrier(6)

    def open_store() -> None:
        start.wait()
        try:
            stores.append(OrderStore(db))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == [] and len(stores) == 6
    order, created = stores[0].create(1, 1, "k", "t")
    assert created and stores[5].get(order.id) == order
    for store in stores:
        store.close()


def test_bad_orders_are_400_with_a_sentence(run, serve, tmp_path):
    bad = [
        ({}, None),
        ({"product_id": 0, "quantity": 1}, None),
        ({"product_id": "3", "quantity": 1}, None),
        ({"product_id": 3, "quantity": 0}, None),
        ({"product_id": 3, "quantity": 101}, None),
        ({"product_id": 3, "quantity": True}, None),
        ({"product_id": 3, "quantity": 1, "note": "x"}, None),
        ([3, 1], None),
        (ORDER, ""),
        (ORDER, "k" * 201),
    ]

    async def scenario():
        async with serve(make_app("orders-1", str(tmp_path / "o.db"))) as client:
            for body, key in bad:
                headers = {} if key is None else {"Idempotency-Key": key}
                resp = await client.post("/orders", json=body, headers=headers)
                assert resp.status == 400, (body, key)
                assert len((await resp.json())["error"]) > 10
            resp = await client.post("/orders", data=b"{oops")
            assert resp.status == 400
            resp = await client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k" * 200})
            assert resp.status == 201
            assert (await (await client.get("/orders")).json())["count"] == 1

    run(scenario())


def test_get_order_by_id_and_listing_pages(run, serve, tmp_path):
    async def scenario():
        async with serve(make_app("orders-1", str(tmp_path / "o.db"))) as client:
            for _ in range(3):
                await client.post("/orders", json=ORDER)
            body = await (await client.get("/orders/2")).json()
            assert body["id"] == 2 and body["instance"] == "orders-1"
            assert (await client.get("/orders/99")).status == 404
            assert (await client.get("/orders/two")).status == 400
            page = await (await client.get("/orders?limit=1&offset=1")).json()
            assert page["count"] == 3 and [o["id"] for o in page["orders"]] == [2]
            assert (await client.get("/orders?limit=0")).status == 400

    run(scenario())
