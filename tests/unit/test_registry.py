"""mesh.controlplane.registry and .store: TTLs, the global index, events and long-poll
wake-ups, on a fake clock and without a server."""

import asyncio
import time

import pytest

from mesh.controlplane.registry import Registry, check_id, check_meta, check_ttl_s, parse_address
from mesh.controlplane.store import Store


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def registry(clock):
    return Registry(clock)


@pytest.fixture
def store(registry):
    return Store(registry, wall_time=lambda: 1_700_000_000.0)


# -- registry ---------------------------------------------------------------------------
def test_register_lists_instances_sorted_by_id(registry):
    registry.register("catalog", "catalog-2", "127.0.0.1:18002")
    change = registry.register("catalog", "catalog-1", "127.0.0.1:18001", 3, {"zone": "a"})
    assert change.kind == "registered"
    assert [i.id for i in registry.instances("catalog")] == ["catalog-1", "catalog-2"]
    assert registry.instances("catalog")[0].to_dict() == {
        "id": "catalog-1",
        "address": "127.0.0.1:18001",
        "meta": {"zone": "a"},
    }


def test_reregister_same_address_changes_nothing_visible(registry):
    registry.register("catalog", "c1", "127.0.0.1:1", 3, {"a": "b"})
    assert registry.register("catalog", "c1", "127.0.0.1:1", 5, {"a": "b"}) is None


def test_reregister_new_address_is_a_change(registry):
    registry.register("catalog", "c1", "127.0.0.1:1")
    change = registry.register("catalog", "c1", "127.0.0.1:2")
    assert change.kind == "reregistered" and "127.0.0.1:2" in change.cause


def test_instance_expires_when_ttl_lapses_without_heartbeat(registry, clock):
    registry.register("catalog", "c1", "127.0.0.1:1", ttl_s=3)
    clock.now += 2.9
    assert registry.expire() == []
    clock.now += 0.1
    [change] = registry.expire()
    assert (change.kind, change.service, change.instance) == ("expired", "catalog", "c1")
    assert registry.instances("catalog") == ()  # the service stays known, empty


def test_heartbeat_renews_the_ttl(registry, clock):
    registry.register("catalog", "c1", "127.0.0.1:1", ttl_s=3)
    for _ in range(5):
        clock.now += 2
        assert registry.heartbeat("catalog", "c1")
        assert registry.expire() == []
    assert registry.remaining_s("catalog", "c1") == 3


def test_heartbeat_of_unknown_or_expired_instance_is_refused(registry, clock):
    assert not registry.heartbeat("catalog", "c1")
    registry.register("catalog", "c1", "127.0.0.1:1", ttl_s=1)
    clock.now += 1
    registry.expire()
    assert not registry.heartbeat("catalog", "c1")


def test_deregister_removes_once(registry):
    registry.register("catalog", "c1", "127.0.0.1:1")
    assert registry.deregister("catalog", "c1").kind == "deregistered"
    assert registry.deregister("catalog", "c1") is None
    assert registry.instances("catalog") == ()
    assert registry.instances("never") is None


@pytest.mark.parametrize("bad", ["", "Catalog", "-x", "a" * 64, "a/b", "a b", 7, None])
def test_ids_are_checked(bad):
    with pytest.raises(ValueError, match="is invalid"):
        check_id(bad, "service")


def test_ids_of_63_chars_with_dots_dashes_underscores_are_fine():
    assert check_id("a" * 63, "service")
    assert check_id("catalog-1.zone_a", "instance")


@pytest.mark.parametrize("bad", ["127.0.0.1", ":80", "host:0", "host:65536", "host:http", "ho st:80", "", 8080, None])
def test_bad_addresses_are_refused(bad):
    with pytest.raises(ValueError):
        parse_address(bad)


def test_addresses_parse_including_ipv6():
    assert parse_address("127.0.0.1:18001") == ("127.0.0.1", 18001)
    assert parse_address("localhost:1") == ("localhost", 1)
    assert parse_address("[::1]:65535") == ("::1", 65535)


@pytest.mark.parametrize("bad", [0, -1, 300.5, "3", True, float("nan"), float("inf")])
def test_ttl_must_be_in_0_to_300(bad):
    with pytest.raises(ValueError, match=r"ttl_s must be a number of seconds in \(0, 300\]"):
        check_ttl_s(bad)


@pytest.mark.parametrize("bad", [[], {"a": 1}, {1: "a"}, {"k": None}, {f"k{i}": "v" for i in range(33)}])
def test_meta_must_map_strings_to_strings(bad):
    with pytest.raises(ValueError):
        check_meta(bad)


def test_register_validates_its_input(registry):
    with pytest.raises(ValueError, match="port 0"):
        registry.register("catalog", "c1", "127.0.0.1:0")
    assert registry.instances("catalog") is None


# -- store: index, events ----------------------------------------------------------------------
def test_index_starts_at_1_and_bumps_once_per_visible_change(store, clock):
    assert store.index == 1
    assert store.register("catalog", "c1", "127.0.0.1:1", 1, {}) is True
    assert store.index == 2
    assert store.register("catalog", "c1", "127.0.0.1:1", 1, {}) is False  # TTL renewal only
    assert store.heartbeat("catalog", "c1")
    assert store.index == 2
    clock.now += 1
    assert store.expire() == 1
    assert store.index == 3
    store.set_policy("catalog", {"timeout_s": 1})
    store.set_policy("catalog", {"timeout_s": 1})  # same policy: no change
    store.set_apimgmt({"keys": {}})
    assert store.index == 5
    assert store.delete_policy("catalog") and not store.delete_policy("catalog")
    assert store.index == 6


def test_events_record_every_change_with_its_cause(store, clock):
    store.register("catalog", "c1", "127.0.0.1:1", 1, {})
    store.register("catalog", "c2", "127.0.0.1:2", 3, {})
    store.deregister("catalog", "c2")
    clock.now += 1
    store.expire()
    store.set_policy("pricing", {})
    kinds = [(e["seq"], e["kind"], e["instance"]) for e in store.events_since(0)]
    assert kinds == [
        (1, "registered", "c1"),
        (2, "registered", "c2"),
        (3, "deregistered", "c2"),
        (4, "expired", "c1"),
        (5, "policy-changed", None),
    ]
    assert [e["seq"] for e in store.events_since(3)] == [4, 5]
    first = store.events_since(0)[0]
    assert set(first) == {"seq", "at", "kind", "service", "instance", "cause"}
    assert first["at"] == 1_700_000_000.0 and "127.0.0.1:1" in first["cause"]


def test_event_log_is_bounded(registry):
    store = Store(registry, max_events=3)
    for i in range(5):
        store.set_policy("s", {"n": i})
    assert [e["seq"] for e in store.events_since(0)] == [3, 4, 5]
    assert store.last_seq == 5


def test_snapshot_shape_and_body_cached_per_index(store):
    store.register("catalog", "c1", "127.0.0.1:1", 3, {"zone": "a"})
    store.set_policy("catalog", {"retry": {}})
    snap = store.snapshot()
    assert snap == {
        "index": 3,
        "services": {"catalog": [{"id": "c1", "address": "127.0.0.1:1", "meta": {"zone": "a"}}]},
        "policies": {"catalog": {"retry": {}}},
        "apimgmt": {},
        "authz": {},  # default allow (issue 15)
    }
    index, body = store.snapshot_body()
    assert index == 3 and store.snapshot_body()[1] is body
    store.deregister("catalog", "c1")
    assert store.snapshot_body()[1] is not body


# -- store: long-poll ---------------------------------------------------------------------------
def test_wait_returns_at_once_when_the_client_is_behind_or_ahead(store):
    async def main():
        t0 = time.monotonic()
        await store.wait_for_change(0, 5)  # behind
        await store.wait_for_change(99, 5)  # ahead: the control plane restarted
        return time.monotonic() - t0

    assert asyncio.run(main()) < 1.0  # not the 5 s wait


def test_wait_times_out_without_change(store):
    async def main():
        t0 = time.monotonic()
        await store.wait_for_change(1, 0.05)
        return time.monotonic() - t0

    assert 0.04 < asyncio.run(main()) < 2
    assert store.waiting == 0


def test_one_change_wakes_every_waiter_at_once(store):
    async def main():
        waiters = [asyncio.create_task(store.wait_for_change(1, 5)) for _ in range(50)]
        await asyncio.sleep(0.01)
        assert store.waiting == 50
        t0 = time.monotonic()
        store.register("catalog", "c1", "127.0.0.1:1", 3, {})
        await asyncio.gather(*waiters)
        return time.monotonic() - t0

    assert asyncio.run(main()) < 1.0  # not the 5 s wait
    assert store.waiting == 0


def test_close_releases_waiters(store):
    async def main():
        waiter = asyncio.create_task(store.wait_for_change(1, 30))
        await asyncio.sleep(0.01)
        store.close()
        await asyncio.wait_for(waiter, 1)
        await asyncio.wait_for(store.wait_for_change(1, 30), 1)  # and later ones

    asyncio.run(main())


def test_time_the_registry_was_frozen_is_given_back_to_every_ttl(registry, clock):
    registry.register("catalog", "catalog-1", "127.0.0.1:1", ttl_s=3)
    clock.now += 10  # the control plane was paused: no heartbeat could land
    registry.extend_all(10)
    assert registry.expire() == []
    clock.now += 3.1  # the lost time is given back once, not forever
    assert [c.kind for c in registry.expire()] == ["expired"]
