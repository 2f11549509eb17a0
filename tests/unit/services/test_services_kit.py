"""The kit every service is built on: JSON errors, X-Instance, stats, misbehave, health."""

from __future__ import annotations

import random
import time

from aiohttp import web

from services.kit import service_app
from services.kit.admin import MisbehaveConfig, Stats
from services.kit.http import MAX_BODY_BYTES


def make_app(instance: str = "kit-1", rng: random.Random | None = None) -> web.Application:
    app = service_app("kitsvc", instance, rng=rng)

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("boom")

    app.router.add_get("/hello", hello)
    app.router.add_get("/crash", crash)
    return app


def test_health_names_service_and_instance(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.get("/health")
            assert resp.status == 200
            assert resp.headers["X-Instance"] == "kit-1"
            assert await resp.json() == {"status": "ok", "service": "kitsvc", "instance": "kit-1"}

    run(scenario())


def test_every_response_carries_x_instance(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            for path in ("/hello", "/nope", "/crash", "/admin/stats"):
                resp = await client.get(path)
                assert resp.headers["X-Instance"] == "kit-1", path

    run(scenario())


def test_unknown_path_is_a_json_404_not_html(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.get("/no/such/thing")
            assert resp.status == 404
            assert resp.content_type == "application/json"
            body = await resp.json()
            assert "/no/such/thing" in body["error"] and body["instance"] == "kit-1"

    run(scenario())


def test_wrong_method_is_a_json_405_with_allow(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.post("/health")
            assert resp.status == 405
            assert "GET" in resp.headers["Allow"]
            assert "POST" in (await resp.json())["error"]

    run(scenario())


def test_malformed_json_is_a_json_400(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.put("/admin/misbehave", data=b"{not json")
            assert resp.status == 400
            assert "not valid JSON" in (await resp.json())["error"]

    run(scenario())


def test_body_over_one_mib_is_a_json_413(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.put("/admin/misbehave", data=b"x" * (MAX_BODY_BYTES + 1))
            assert resp.status == 413
            assert "1048576" in (await resp.json())["error"]

    run(scenario())


def test_a_crash_is_a_json_500_without_traceback(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.get("/crash")
            assert resp.status == 500
            body = await resp.json()
            assert body["error"].startswith("internal error") and "Traceback" not in body["error"]

    run(scenario())


def test_misbehave_rejects_bad_values_with_a_sentence(run, serve):
    bad_bodies = [
        {"error_rate": 1.5},
        {"error_rate": -0.1},
        {"error_rate": True},
        {"error_rate": "0.5"},
        {"error_status": 200},
        {"error_status": 600},
        {"error_status": 500.0},
        {"delay_ms": -1},
        {"delay_ms": 10**9},
        {"seed": "x"},
        {"colour": "red"},
        [1, 2],
    ]

    async def scenario():
        async with serve(make_app()) as client:
            for body in bad_bodies:
                resp = await client.put("/admin/misbehave", json=body)
                assert resp.status == 400, body
                assert len((await resp.json())["error"]) > 10, body
            assert (await (await client.get("/admin/misbehave")).json())["error_rate"] == 0.0

    run(scenario())


def test_misbehave_fails_app_requests_but_not_health_or_admin(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            resp = await client.put("/admin/misbehave", json={"error_rate": 1, "error_status": 503})
            assert resp.status == 200 and (await resp.json())["error_status"] == 503
            resp = await client.get("/hello")
            assert resp.status == 503 and (await resp.json())["misbehave"] is True
            assert (await client.get("/health")).status == 200
            assert (await client.get("/admin/stats")).status == 200
            assert (await client.delete("/admin/misbehave")).status == 200
            assert (await client.get("/hello")).status == 200

    run(scenario())


def test_misbehave_delay_applies_before_answering(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            await client.put("/admin/misbehave", json={"delay_ms": 150})
            started = time.monotonic()
            assert (await client.get("/hello")).status == 200
            assert time.monotonic() - started >= 0.14
            started = time.monotonic()
            await client.get("/health")
            assert time.monotonic() - started < 0.14

    run(scenario())


def test_misbehave_seed_makes_error_sequence_reproducible(run, serve):
    async def statuses(client) -> list[int]:
        await client.put("/admin/misbehave", json={"error_rate": 0.5, "seed": 42})
        return [(await client.get("/hello")).status for _ in range(30)]

    async def scenario():
        async with serve(make_app("a")) as a, serve(make_app("b")) as b:
            first, second = await statuses(a), await statuses(b)
            assert first == second
            assert 500 in first and 200 in first

    run(scenario())


def test_stats_count_app_requests_only_and_delete_reads_and_resets(run, serve):
    async def scenario():
        async with serve(make_app()) as client:
            for path in ("/hello", "/hello", "/nope", "/health", "/admin/misbehave"):
                await client.get(path)
            stats = await (await client.get("/admin/stats")).json()
            assert stats["requests"] == 3
            assert stats["by_path"] == {"/hello": 2, "/nope": 1}
            assert stats["by_status"] == {"200": 2, "404": 1}
            cleared = await (await client.delete("/admin/stats")).json()
            assert cleared["requests"] == 3
            assert (await (await client.get("/admin/stats")).json())["requests"] == 0

    run(scenario())


def test_stats_lump_paths_beyond_the_cap():
    stats = Stats()
    for i in range(1005):
        stats.count(f"/p/{i}")
    assert stats.requests == 1005
    assert len(stats.by_path) == 1001 and stats.by_path["(other)"] == 5


def test_misbehave_put_replaces_the_whole_config():
    config = MisbehaveConfig.from_json({"delay_ms": 20})
    assert config == MisbehaveConfig(error_rate=0.0, error_status=500, delay_ms=20)
