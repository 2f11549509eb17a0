"""The resilient call over real loopback sockets, one case per pattern, in one process.

Upstreams are tiny HTTP servers (the project's own server core) whose behaviour each
test sets; the caller is the same `ResilientCaller` the gateway and the sidecars run.
Each case also runs with its pattern switched off (live, through `set_policies`), so
every assertion has a control arm.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import pytest

from gatemesh.discovery import Endpoint
from gatemesh.http.messages import Request, Response, json_response
from gatemesh.http.server import serve
from gatemesh.patterns.deadline import Deadline
from gatemesh.pipeline import ResilientCaller
from gatemesh.policy import Policy, PolicyTable, all_off
from gatemesh.refusal import Refusal

pytestmark = pytest.mark.integration


@dataclass
class Upstream:
    """One fake instance: answers `status` after `delay_s`; counts what it received."""

    name: str
    status: int = 200
    delay_s: float = 0.0
    received: int = 0
    deadlines: list[bytes] = field(default_factory=list)
    port: int = 0
    server: object = None

    async def handle(self, req: Request) -> Response:
        self.received += 1
        self.deadlines.append(req.header(b"x-gatemesh-deadline-ms") or b"")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return json_response(self.status, {"instance": self.name}, [(b"x-instance", self.name.encode())])


async def start(n: int) -> list[Upstream]:
    ups = []
    for i in range(n):
        u = Upstream(f"svc-{i + 1}")
        u.server = await serve(u.handle, "127.0.0.1", 0)
        u.port = u.server.sockets[0].getsockname()[1]
        ups.append(u)
    return ups


def caller_for(ups: list[Upstream], policy: Policy) -> ResilientCaller:
    table = PolicyTable()
    table.set("*", policy)
    caller = ResilientCaller("test", table, rng=random.Random(7))
    caller.update_endpoints({"svc": [Endpoint(u.name, "127.0.0.1", u.port, {}) for u in ups]})
    return caller


def set_policy(caller: ResilientCaller, policy: Policy) -> None:
    table = PolicyTable()
    table.set("*", policy)
    caller.set_policies(table)


async def call(caller: ResilientCaller, method: bytes = b"GET", key: bool = False, deadline=None):
    """(status or refusal reason, instance, attempts)"""
    try:
        r = await caller.call(
            "svc",
            method,
            b"/x",
            [(b"host", b"svc")],
            b"{}" if method == b"POST" else b"",
            deadline,
            idempotency_key=key,
        )
    except Refusal as refusal:
        return refusal.reason, None, 0
    if r.response is not None:
        await r.response.read()
    return r.status, r.instance, r.attempts


def run(coro):
    async def wrapped():
        try:
            return await asyncio.wait_for(coro, 30)
        finally:
            pass

    return asyncio.run(wrapped())


BASE = Policy().merged({"outlier": {"enabled": False}, "breaker": {"enabled": False}})


def test_retry_moves_to_another_instance_and_control_arm_fails():
    async def scenario():
        ups = await start(3)
        ups[0].status = 503
        caller = caller_for(ups, BASE)
        on = [await call(caller) for _ in range(30)]
        set_policy(caller, BASE.merged({"retry": {"enabled": False}}))
        off = [await call(caller) for _ in range(30)]
        return on, off

    on, off = run(scenario())
    assert all(status == 200 for status, _, _ in on)
    assert any(attempts == 2 for _, _, attempts in on)  # a retry happened and it worked
    assert sum(status == 503 for status, _, _ in off) == 10  # control: every third call fails


def test_post_is_retried_only_with_an_idempotency_key():
    async def scenario():
        ups = await start(2)
        ups[0].status = ups[1].status = 503
        caller = caller_for(ups, BASE.merged({"budget": {"enabled": False}}))
        await call(caller, b"POST")
        without = sum(u.received for u in ups)
        await call(caller, b"POST", key=True)
        with_key = sum(u.received for u in ups) - without
        return without, with_key

    without, with_key = run(scenario())
    assert without == 1  # a write without a key is never replayed
    assert with_key == 3  # with a key it is safe: max_attempts


def test_connect_failure_is_retried_even_for_a_write():
    async def scenario():
        ups = await start(2)
        ups[0].server.close()
        await ups[0].server.wait_closed()
        caller = caller_for(ups, BASE)
        return [await call(caller, b"POST") for _ in range(6)]

    results = run(scenario())
    assert all(status == 200 for status, _, _ in results)


def test_attempt_timeout_bounds_a_slow_instance_and_control_arm_waits():
    async def scenario():
        ups = await start(2)
        ups[0].delay_s = 1.0
        caller = caller_for(ups, BASE.merged({"timeout": {"attempt_timeout_s": 0.1}}))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        on = [await call(caller) for _ in range(4)]
        on_s = loop.time() - t0
        set_policy(caller, BASE.merged({"timeout": {"enabled": False}, "retry": {"enabled": False}}))
        t0 = loop.time()
        off = [await call(caller) for _ in range(2)]
        off_s = loop.time() - t0
        return on, on_s, off, off_s

    on, on_s, off, off_s = run(scenario())
    assert all(s == 200 for s, _, _ in on)
    assert on_s < 1.0  # 4 calls, two of them hit the slow one and moved on after 100 ms
    assert off_s >= 1.0  # control: one call waited the full second


def test_breaker_opens_fails_fast_and_spares_the_upstream():
    async def scenario():
        ups = await start(1)
        ups[0].status = 500
        policy = all_off().merged({"breaker": {"enabled": True, "consecutive_failures": 3, "open_s": 30}})
        caller = caller_for(ups, policy)
        results = [await call(caller) for _ in range(20)]
        on_received = ups[0].received
        set_policy(caller, all_off())
        ups[0].received = 0
        [await call(caller) for _ in range(20)]
        return results, on_received, ups[0].received

    results, on_received, off_received = run(scenario())
    assert on_received == 3
    assert [r[0] for r in results[3:]] == ["circuit-open"] * 17
    assert off_received == 20  # control: the failing upstream gets every call


def test_outlier_ejection_stops_traffic_to_the_bad_instance():
    async def scenario():
        ups = await start(3)
        ups[0].status = 500
        policy = all_off().merged({"outlier": {"enabled": True, "consecutive_errors": 2, "max_ejection_percent": 50}})
        caller = caller_for(ups, policy)
        [await call(caller) for _ in range(30)]
        on_received = ups[0].received
        set_policy(caller, all_off())
        ups[0].received = 0
        [await call(caller) for _ in range(30)]
        return on_received, ups[0].received

    on_received, off_received = run(scenario())
    assert on_received == 2  # ejected after its 2nd consecutive error
    assert off_received == 10  # control: round robin keeps sending it a third


def test_retry_budget_caps_amplification():
    async def scenario():
        ups = await start(3)
        for u in ups:
            u.status = 503
        policy = BASE.merged(
            {
                "retry": {"max_attempts": 3, "backoff_base_s": 0.001, "backoff_max_s": 0.001},
                "budget": {"ratio": 0.2, "min_retries_per_s": 1},
            }
        )
        caller = caller_for(ups, policy)
        [await call(caller) for _ in range(50)]
        on = sum(u.received for u in ups)
        for u in ups:
            u.received = 0
        set_policy(caller, policy.merged({"budget": {"enabled": False}}))
        [await call(caller) for _ in range(50)]
        off = sum(u.received for u in ups)
        return on, off

    on, off = run(scenario())
    assert on <= 50 * 1.2 + 10 + 1  # (1 + ratio) × requests + floor for the run
    assert off == 150  # control: every request tried 3 times


def test_deadline_is_propagated_and_an_expired_one_is_not_sent():
    async def scenario():
        ups = await start(1)
        caller = caller_for(ups, BASE)
        await call(caller, deadline=Deadline.after(caller.clock, 0.8))
        sent = ups[0].deadlines[-1]
        expired = await call(caller, deadline=Deadline.after(caller.clock, 0.0))
        return sent, expired, ups[0].received

    sent, expired, received = run(scenario())
    assert 0 < int(sent) <= 800
    assert expired[0] == "deadline-exceeded"
    assert received == 1


def test_least_request_prefers_the_idle_instance():
    async def scenario():
        ups = await start(2)
        ups[0].delay_s = 0.3

        async def arrivals(kind: str) -> tuple[int, int]:
            # Requests arrive every 10 ms (not all at once: at t=0 both instances are idle).
            caller = caller_for(ups, all_off().merged({"balancer": {"kind": kind}}))
            ups[0].received = ups[1].received = 0
            tasks = []
            for _ in range(30):
                tasks.append(asyncio.create_task(call(caller)))
                await asyncio.sleep(0.01)
            await asyncio.gather(*tasks)
            return ups[0].received, ups[1].received

        return await arrivals("least_request"), await arrivals("round_robin")

    (slow, fast), (rr_slow, rr_fast) = run(scenario())
    assert slow + fast == 30 and fast >= 3 * slow  # P2C steers away from the instance with requests piling up
    assert rr_slow == rr_fast == 15  # control: round robin ignores load


def test_unknown_service_and_no_endpoints_are_named():
    async def scenario():
        caller = ResilientCaller("test", PolicyTable())
        caller.update_endpoints({"svc": []})
        out = []
        for service in ("nope", "svc"):
            try:
                await caller.call(service, b"GET", b"/", [], b"")
            except Refusal as r:
                out.append((r.reason, r.status))
        return out

    assert run(scenario()) == [("unknown-service", 404), ("no-healthy-upstream", 503)]


def test_active_health_checks_take_a_dead_instance_out_before_traffic_finds_it():
    async def scenario():
        ups = await start(3)
        policy = all_off().merged(
            {
                "health_check": {
                    "enabled": True,
                    "interval_s": 0.05,
                    "timeout_s": 0.04,
                    "unhealthy_threshold": 2,
                    "healthy_threshold": 1,
                }
            }
        )
        caller = caller_for(ups, policy)
        caller.upstream("svc")
        stop = asyncio.Event()
        loop_task = asyncio.create_task(caller.health_check_loop(stop))
        ups[0].server.close()  # dies; no request of ours has touched it yet
        await ups[0].server.wait_closed()
        up = caller.upstream("svc")
        deadline = asyncio.get_running_loop().time() + 5
        while up.health.is_healthy("svc-1") and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        on = [await call(caller) for _ in range(12)]
        stop.set()
        await loop_task
        set_policy(caller, all_off())  # control arm: no checks, round robin still sends it a third
        off = [await call(caller) for _ in range(12)]
        return on, off, [e["kind"] for e in caller.events.since(0)]

    on, off, kinds = run(scenario())
    assert all(s == 200 for s, _, _ in on)
    assert "health-check-failed" in kinds
    assert sum(s == "connect-failed" for s, _, _ in off) == 4
