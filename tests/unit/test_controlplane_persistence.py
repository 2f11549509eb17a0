"""The control plane's state file: policies, API management and registrations survive a
restart; old or malformed registrations are not restored; a restored instance still
expires one TTL later unless it heartbeats (issue 12, item 1)."""

from __future__ import annotations

import asyncio
import json

import pytest

from gatemesh.clock import FakeClock
from mesh.controlplane.persistence import RESTORE_MAX_AGE_S, StateFile
from mesh.controlplane.registry import Registry
from mesh.controlplane.store import Store


def run(coro_fn):
    return asyncio.run(coro_fn())


def test_registrations_are_saved_on_every_visible_change_and_restored_with_a_fresh_ttl(tmp_path):
    path = tmp_path / "state.json"
    wall = [1000.0]

    async def first():
        store = Store(Registry(FakeClock()))
        store.on_state_change = StateFile(path, lambda: wall[0]).save
        store.register("orders", "orders-1", "127.0.0.1:18001", 3.0, {"zone": "a"})
        store.register("orders", "orders-2", "127.0.0.1:18002", 3.0, {})
        store.deregister("orders", "orders-2")
        store.set_policy("orders", {"retry": {"enabled": False}})

    run(first)
    saved = json.loads(path.read_text())
    assert [r["instance"] for r in saved["registrations"]] == ["orders-1"]
    assert saved["saved_at"] == 1000.0

    async def second():
        clock = FakeClock()
        store = Store(Registry(clock))
        state = StateFile(path, lambda: wall[0] + 20).load()  # down for 20 s
        assert state.existed and state.policies == {"orders": {"retry": {"enabled": False}}}
        assert store.restore(state.registrations, state.services) == 1
        assert store.services() == {"orders": [{"id": "orders-1", "address": "127.0.0.1:18001", "meta": {"zone": "a"}}]}
        assert store.index > 1 and not store.events  # no event: a watcher saw it before the restart
        clock.advance(2.9)
        assert store.expire() == 0
        clock.advance(0.2)  # never heartbeated: gone one TTL later
        assert store.expire() == 1 and store.services() == {"orders": []}

    run(second)


def test_a_service_with_no_instance_left_stays_known_after_a_restart(tmp_path):
    path = tmp_path / "state.json"

    async def main():
        store = Store(Registry(FakeClock()))
        store.on_state_change = StateFile(path).save
        store.register("reviews", "reviews-1", "127.0.0.1:18003", 3.0, {})
        store.deregister("reviews", "reviews-1")
        again = Store(Registry(FakeClock()))
        saved = StateFile(path).load()
        again.restore(saved.registrations, saved.services)
        assert again.services() == {"reviews": []}  # "no healthy upstream", not "unknown service"

    run(main)


def test_registrations_older_than_the_longest_ttl_are_not_restored(tmp_path):
    path = tmp_path / "state.json"
    StateFile(path, lambda: 0.0).save(
        {
            "policies": {"*": {}},
            "apimgmt": {},
            "registrations": [{"service": "a", "instance": "a-1", "address": "127.0.0.1:1", "ttl_s": 3}],
        }
    )
    state = StateFile(path, lambda: RESTORE_MAX_AGE_S + 1).load()
    assert state.existed and state.policies == {"*": {}} and state.registrations == []


def test_a_malformed_registration_is_skipped_not_fatal(tmp_path):
    async def main():
        store = Store(Registry(FakeClock()))
        n = store.restore(
            [
                {"service": "a", "instance": "a-1", "address": "nowhere"},
                {"service": "a"},
                {"service": "a", "instance": "a-2", "address": "127.0.0.1:9", "ttl_s": 3},
            ]
        )
        assert n == 1 and [i["id"] for i in store.services()["a"]] == ["a-2"]

    run(main)


@pytest.mark.parametrize("text", ["[]", "{not json"])
def test_an_unreadable_state_file_is_one_sentence(tmp_path, text):
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="cannot read the state file"):
        StateFile(path).load()
