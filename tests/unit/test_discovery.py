"""gatemesh.discovery against a real control-plane server, in-process on an ephemeral
loopback port (tests/integration/test_controlplane.py runs the real process)."""

import asyncio
import logging
import time

import aiohttp
import pytest
from aiohttp import web

from gatemesh.discovery import Endpoint, Registration, Snapshot, SnapshotWatcher
from mesh.controlplane.app import make_app
from mesh.controlplane.registry import Registry
from mesh.controlplane.store import Store

POLICY = {"timeout": {"attempt_timeout_s": 1.0}}


class ControlPlane:
    """A control plane served in this event loop; ``stop``/``start`` keep the port."""

    def __init__(self) -> None:
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def start(self) -> "ControlPlane":
        self.store = Store(Registry(time))
        self.runner = web.AppRunner(make_app(self.store, sweep_interval_s=0.05), access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def run(coro_fn):
    """Run an async test body with a control plane; bounded by a 20 s timeout."""

    async def main():
        cp = await ControlPlane().start()
        try:
            async with asyncio.timeout(20):
                await coro_fn(cp)
        finally:
            await cp.stop()

    asyncio.run(main())


async def eventually(predicate, timeout_s=2.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def free_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_snapshot_and_endpoint_parse_the_wire_format():
    snap = Snapshot.from_dict(
        {
            "index": 7,
            "services": {
                "catalog": [
                    {"id": "c1", "address": "127.0.0.1:18001", "meta": {"zone": "a"}},
                    {"id": "c2", "address": "[::1]:18002", "meta": {}},
                ]
            },
            "policies": {"catalog": {"timeout_s": 1}},
            "apimgmt": {},
        }
    )
    c1, c2 = snap.services["catalog"]
    assert c1 == Endpoint("c1", "127.0.0.1", 18001, {"zone": "a"})
    assert (c2.host, c2.port, c2.address) == ("::1", 18002, "[::1]:18002")
    assert snap.index == 7 and snap.policies["catalog"] == {"timeout_s": 1}
    assert len({c1, c2, Endpoint("c1", "127.0.0.1", 18001, {"zone": "a"})}) == 2  # hashable
    with pytest.raises(ValueError, match="not a control-plane snapshot"):
        Snapshot.from_dict({"index": 1})


def test_watcher_sees_first_snapshot_then_registrations_and_deregistrations():
    async def body(cp):
        seen = []
        watcher = SnapshotWatcher(cp.url, on_change=seen.append, wait_s=5)
        await watcher.start()
        assert await watcher.wait_ready(2)
        assert watcher.connected and watcher.snapshot.index == 1 and watcher.endpoints("catalog") == ()
        reg = Registration(cp.url, "catalog", "catalog-1", "127.0.0.1:18001", ttl_s=3, meta={"zone": "a"})
        await reg.start()
        assert reg.registered
        t0 = time.monotonic()
        assert await eventually(lambda: watcher.endpoints("catalog"))
        assert time.monotonic() - t0 < 1.0  # the long-poll wakes; wait_s is 5
        assert watcher.endpoints("catalog") == (Endpoint("catalog-1", "127.0.0.1", 18001, {"zone": "a"}),)
        await reg.stop()
        assert await eventually(lambda: watcher.endpoints("catalog") == ())
        assert [s.index for s in seen] == [1, 2, 3]
        await watcher.stop()

    run(body)


def test_watcher_delivers_policies_and_apimgmt():
    async def body(cp):
        watcher = SnapshotWatcher(cp.url, wait_s=5)
        await watcher.start()
        await watcher.wait_ready(2)
        async with aiohttp.ClientSession() as http:
            for path, body in [("/v1/policies/catalog", POLICY), ("/v1/apimgmt", {"keys": {"k": {"routes": ["*"]}}})]:
                async with http.put(cp.url + path, json=body) as resp:
                    assert resp.status == 200, await resp.text()
        assert await eventually(lambda: watcher.snapshot.index == 3)
        assert watcher.snapshot.policies == {"catalog": POLICY}
        assert watcher.snapshot.apimgmt["keys"] == {"k": {"routes": ["*"]}}
        await watcher.stop()

    run(body)


def test_watcher_keeps_last_snapshot_while_control_plane_is_down_and_recovers(caplog):
    caplog.set_level(logging.INFO, logger="gatemesh.discovery")

    async def body(cp):
        cp.store.register("catalog", "c1", "127.0.0.1:18001", 30, {})
        watcher = SnapshotWatcher(cp.url, wait_s=5, retry_s=0.02)
        await watcher.start()
        await watcher.wait_ready(2)
        await cp.stop()
        assert await eventually(lambda: not watcher.connected)
        await asyncio.sleep(0.3)  # several retries
        assert [e.id for e in watcher.endpoints("catalog")] == ["c1"]
        await cp.start()  # same port, fresh state whose index collides with the watcher's 2
        cp.store.register("catalog", "c9", "127.0.0.1:18009", 30, {})
        assert await eventually(lambda: watcher.connected, 3)
        assert await eventually(lambda: [e.id for e in watcher.endpoints("catalog")] == ["c9"])
        await watcher.stop()
        assert watcher.snapshot is not None  # stop keeps it too

    run(body)
    states = [r.getMessage() for r in caplog.records if r.name == "gatemesh.discovery"]
    assert sum("unreachable" in m for m in states) == 1  # one line per state change
    assert sum("connected to" in m for m in states) == 2


def test_on_change_errors_do_not_stop_the_watcher():
    async def body(cp):
        calls = []

        def broken(snapshot):
            calls.append(snapshot.index)
            raise RuntimeError("bug in the caller")

        watcher = SnapshotWatcher(cp.url, on_change=broken, wait_s=5)
        await watcher.start()
        await watcher.wait_ready(2)
        cp.store.set_policy("catalog", {})
        assert await eventually(lambda: calls == [1, 2])
        assert watcher.connected
        await watcher.stop()

    run(body)


def test_watcher_without_control_plane_is_not_ready_and_stops_cleanly():
    async def body():
        watcher = SnapshotWatcher(free_port_url(), retry_s=0.02)
        await watcher.start()
        assert not await watcher.wait_ready(0.2)
        assert watcher.snapshot is None and not watcher.connected
        assert watcher.endpoints("catalog") == ()
        await watcher.stop()

    asyncio.run(body())


def test_registration_heartbeats_keep_a_short_ttl_alive():
    async def body(cp):
        reg = Registration(cp.url, "catalog", "c1", "127.0.0.1:18001", ttl_s=0.5)
        await reg.start()
        await asyncio.sleep(1.1)  # over two TTLs
        assert [i.id for i in cp.store.registry.instances("catalog")] == ["c1"]
        assert cp.store.index == 2  # heartbeats change nothing visible
        await reg.stop()

    run(body)


def test_registration_registers_again_when_the_control_plane_forgets_it():
    async def body(cp):
        reg = Registration(cp.url, "catalog", "c1", "127.0.0.1:18001", ttl_s=0.3)
        await reg.start()
        cp.store.deregister("catalog", "c1")  # as after a control-plane restart
        assert await eventually(lambda: cp.store.registry.instances("catalog"), 1)
        await reg.stop()
        assert cp.store.registry.instances("catalog") == ()

    run(body)


def test_registration_without_control_plane_neither_raises_nor_hangs():
    async def body():
        reg = Registration(free_port_url(), "catalog", "c1", "127.0.0.1:18001", ttl_s=0.3)
        await reg.start()
        assert not reg.registered
        t0 = time.monotonic()
        await reg.stop()
        assert time.monotonic() - t0 < 1.5

    asyncio.run(body())
