"""Self-registration against a fake control plane that speaks the contract."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from services.kit.registration import Registrar


class FakeControlPlane:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.instances: dict[str, dict] = {}
        app = web.Application()
        app.router.add_put("/v1/services/{service}/instances/{id}", self.register)
        app.router.add_put("/v1/services/{service}/instances/{id}/heartbeat", self.heartbeat)
        app.router.add_delete("/v1/services/{service}/instances/{id}", self.deregister)
        self.app = app

    def _key(self, request: web.Request) -> str:
        return f"{request.match_info['service']}/{request.match_info['id']}"

    async def register(self, request: web.Request) -> web.Response:
        self.calls.append(("register", self._key(request)))
        self.instances[self._key(request)] = await request.json()
        return web.json_response({"ok": True})

    async def heartbeat(self, request: web.Request) -> web.Response:
        self.calls.append(("heartbeat", self._key(request)))
        if self._key(request) not in self.instances:
            return web.json_response({"error": "unknown instance"}, status=404)
        return web.json_response({"ok": True})

    async def deregister(self, request: web.Request) -> web.Response:
        self.calls.append(("deregister", self._key(request)))
        self.instances.pop(self._key(request), None)
        return web.json_response({"ok": True})

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


async def wait_for(predicate, timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


def test_registers_heartbeats_reregisters_after_404_and_deregisters(run, serve):
    cp = FakeControlPlane()

    async def scenario():
        async with serve(cp.app) as client:
            url = str(client.make_url("")).rstrip("/")
            registrar = Registrar(url, "pricing", "pricing-1", "127.0.0.1:19001", ttl_s=0.3)
            await registrar.start()
            await wait_for(lambda: cp.kinds().count("heartbeat") >= 2)
            assert cp.calls[0] == ("register", "pricing/pricing-1")
            assert cp.instances["pricing/pricing-1"] == {"address": "127.0.0.1:19001", "ttl_s": 0.3, "meta": {}}

            cp.instances.clear()  # the control plane restarted and forgot us
            registers = cp.kinds().count("register")
            await wait_for(lambda: cp.kinds().count("register") > registers)
            assert "pricing/pricing-1" in cp.instances

            await registrar.stop()
            assert cp.calls[-1] == ("deregister", "pricing/pricing-1")
            assert cp.instances == {}

    run(scenario())


def test_keeps_trying_quietly_while_the_control_plane_is_down(run, serve, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]

    async def scenario():
        registrar = Registrar(f"http://127.0.0.1:{dead_port}", "reviews", "reviews-1", "127.0.0.1:1", ttl_s=0.15)
        await registrar.start()
        await asyncio.sleep(0.4)  # several attempts
        assert not registrar.registered
        await registrar.stop()  # deregistering from a dead control plane must not hang

    with caplog.at_level("INFO", logger="services.kit.registration"):
        run(scenario(), 5.0)
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1  # one line for the state change, not one per attempt
