"""gateway.composition on a fake pool: a part gets the pipeline's fallback like any call,
and a page refused for a critical part names that part's reason in its header."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random

from gatemesh.clock import FakeClock
from gatemesh.discovery import Endpoint
from gatemesh.http.messages import Request
from gatemesh.patterns.breaker import BreakerConfig
from gatemesh.patterns.fallback import FallbackConfig
from gatemesh.pipeline import ResilientCaller
from gatemesh.policy import PolicyTable, all_off
from gatemesh.proxy import Proxy
from gateway.composition import PARTS, compose_product

from fakepool import FakePool, FakeResponse

PORTS = {service: n for n, (_, service, _, _) in enumerate(PARTS, start=1)}


def gateway(policies: dict) -> tuple[ResilientCaller, FakePool]:
    clock = FakeClock()
    pool = FakePool(clock)
    table = PolicyTable()
    table.set("*", all_off())
    for service, policy in policies.items():
        table.set(service, policy)
    caller = ResilientCaller("gateway", table, clock=clock, rng=random.Random(1), pool=pool)  # type: ignore[arg-type]
    caller.update_endpoints({s: [Endpoint(f"{s}-1", "127.0.0.1", port, {})] for s, port in PORTS.items()})
    return caller, pool


def page(caller: ResilientCaller):
    req = Request(b"GET", b"/api/products/1", [(b"host", b"gw")], b"", peer="127.0.0.1")
    resp = asyncio.run(compose_product(caller, Proxy("gateway", caller), req, "1"))
    return resp.status, dict(resp.headers).get(b"x-gatemesh-reason"), json.loads(resp.body)


def test_a_page_refused_by_an_open_breaker_says_circuit_open_in_its_header():
    caller, pool = gateway({"catalog": dataclasses.replace(all_off(), breaker=BreakerConfig(consecutive_failures=1))})
    caller.upstream("catalog").breaker.on_failure(0.0)
    status, reason, body = page(caller)
    assert (status, reason) == (503, b"circuit-open") and body["reasons"] == {"catalog": "circuit-open"}
    assert PORTS["catalog"] not in pool.ports()


def test_a_critical_part_answering_an_error_of_its_own_is_upstream_error():
    caller, pool = gateway({})
    pool.script(PORTS["pricing"], 500)
    status, reason, body = page(caller)
    assert (status, reason) == (503, b"upstream-error") and body["missing"] == ["pricing"]


def test_an_optional_part_gets_its_fallback_and_the_control_arm_is_degraded():
    good = FakeResponse(200, b'{"reviews": ["fine"]}')
    on = dataclasses.replace(all_off(), fallback=FallbackConfig(enabled=True))
    for policies, expect in (({"reviews": on}, {"reviews": ["fine"]}), ({}, None)):
        caller, pool = gateway(policies)
        pool.script(PORTS["reviews"], good, 503)
        assert page(caller)[0] == 200
        status, reason, body = page(caller)
        assert status == 200 and body["reviews"] == expect
        assert body["degraded"] == ([] if expect else ["reviews"])
