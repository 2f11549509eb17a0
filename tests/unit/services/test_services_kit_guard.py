"""services/kit/guard.py: an app behind a sidecar answers its sidecar's secret and the admin
token, refuses everything else with 403 not-via-sidecar, and is unchanged without a secret."""

from __future__ import annotations

import hashlib

from aiohttp import web

from gatemesh.reasons import STATUS, Reason
from gatemesh.runner import trust
from gatemesh.security import credentials
from gatemesh.topology import build_topology
from mesh.sidecar.app import APP_SECRET_HEADER
from services.kit import service_app
from services.kit.guard import ADMIN_DIGEST_ENV, GUARD, REASON, SECRET_ENV, SECRET_HEADER, SidecarOnly

SECRET = "s" * 64
ADMIN = "the-run-admin-token-" + "a" * 32


def make_app(guard: SidecarOnly | None) -> web.Application:
    app = service_app("kitsvc", "kit-1")

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app.router.add_get("/hello", hello)
    if guard is not None:
        app[GUARD] = guard
    return app


def guarded() -> web.Application:
    return make_app(SidecarOnly(SECRET, hashlib.sha256(ADMIN.encode()).hexdigest()))


def test_a_call_without_the_secret_is_403_with_the_reason_and_not_counted(run, serve):
    async def scenario():
        async with serve(guarded()) as client:
            for headers in ({}, {SECRET_HEADER: "x" * 64}, {"Authorization": "Bearer nope"}, {"Authorization": SECRET}):
                resp = await client.get("/hello", headers=headers)
                assert resp.status == 403 and resp.headers["X-Gatemesh-Reason"] == REASON, headers
                body = await resp.json()
                assert body["reason"] == REASON and "own sidecar" in body["error"] and body["instance"] == "kit-1"
            put = await client.put("/admin/misbehave", json={"error_rate": 1})
            assert put.status == 403
            stats = await client.get("/admin/stats", headers={SECRET_HEADER: SECRET})
            assert (await stats.json())["requests"] == 0  # refused calls reached nothing

    run(scenario())


def test_the_sidecars_secret_and_the_admin_token_are_let_in_and_health_always(run, serve):
    async def scenario():
        async with serve(guarded()) as client:
            assert (await client.get("/hello", headers={SECRET_HEADER: SECRET})).status == 200
            # a client's own header beside the sidecar's does not lock the sidecar out
            both = await client.get("/hello", headers=[(SECRET_HEADER, "guess"), (SECRET_HEADER, SECRET)])
            assert both.status == 200
            admin = {"Authorization": f"Bearer {ADMIN}"}
            assert (await client.put("/admin/misbehave", json={"error_rate": 0}, headers=admin)).status == 200
            assert (await client.get("/health")).status == 200

    run(scenario())


def test_without_a_secret_nothing_changes(run, serve):
    async def scenario():
        async with serve(make_app(None)) as client:
            assert (await client.get("/hello")).status == 200
            assert (await client.put("/admin/misbehave", json={"error_rate": 0})).status == 200

    run(scenario())
    assert SidecarOnly.from_env({}) is None


def test_the_guard_names_what_gatemesh_names():
    """Services import nothing of gatemesh's: the names are repeated, and must not drift."""
    assert REASON == Reason.NOT_VIA_SIDECAR and STATUS[Reason.NOT_VIA_SIDECAR] == 403
    assert SECRET_HEADER.lower().encode() == APP_SECRET_HEADER
    assert (SECRET_ENV, ADMIN_DIGEST_ENV) == (credentials.APP_SECRET_ENV, credentials.ADMIN_DIGEST_ENV)


def test_the_runner_hands_the_secret_to_an_app_behind_a_sidecar_and_that_sidecar_only(tmp_path):
    creds = credentials.Credentials.generate()
    mesh = build_topology("edge-mesh")
    env: dict[str, dict[str, str]] = {}
    for c in mesh.components:
        env[c.name] = {}
        trust.apply_env(env[c.name], c, creds)
    secret = creds.app_secret("catalog", "catalog-1")
    assert env["catalog-1"][SECRET_ENV] == env["sidecar-catalog-1"][SECRET_ENV] == secret
    assert env["catalog-1"][ADMIN_DIGEST_ENV] == credentials.token_digest(creds.admin_token)
    assert ADMIN_DIGEST_ENV not in env["sidecar-catalog-1"] and creds.admin_token not in str(env)
    assert env["catalog-2"][SECRET_ENV] != secret  # per instance
    assert SECRET_ENV not in env["gateway"] and SECRET_ENV not in env["controlplane"]
    assert secret != creds.instance_token("catalog", "catalog-1").rsplit(".", 1)[1]  # not a bootstrap token's MAC
    edge = build_topology("edge")  # no sidecars: the apps are their own front door, unchanged
    for c in edge.instances():
        e: dict[str, str] = {}
        trust.apply_env(e, c, creds)
        assert SECRET_ENV not in e and ADMIN_DIGEST_ENV not in e
