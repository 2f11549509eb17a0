"""deadline propagation — both pricing instances take 1 s to answer; the mesh retries
pricing with a 250 ms attempt timeout, up to 5 tries.

At the edge: the gateway gives the storefront page a 600 ms deadline and sends it along
(``X-Gatemesh-Deadline-Ms``); the storefront copies it onto its calls, and its sidecar
stops retrying pricing when it is spent: at most 3 tries reach pricing. In the mesh: an
app passes its 600 ms deadline to its sidecar, with the same effect. Control arm: no
deadline is sent, so all 5 tries reach pricing, most of them after the 600 ms were up
(at the edge the client has left by then: that work is for nobody).
"""

from __future__ import annotations

import pytest

from chaoslib import EDGE, MESH, only

DELAY_MS = 1000
ATTEMPT_S = 0.25
TRIES = 5
DEADLINE_S = 0.6
MARGIN_S = 0.45
MOST_WITH_DEADLINE = 3  # tries that fit in 600 ms at 250 ms each: 0, 0.25, 0.5

pytestmark = [pytest.mark.timeouts]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
MESH_PRICING = only(
    timeout={"enabled": True, "attempt_timeout_s": ATTEMPT_S, "request_timeout_s": 5.0},
    retry={
        "enabled": True,
        "max_attempts": TRIES,
        "retry_on_timeout": True,
        "backoff_base_s": 0.001,
        "backoff_max_s": 0.002,
    },
    concurrency={"enabled": True},
)  # only so that /-/upstreams counts requests in flight
EDGE_STOREFRONT = only(timeout={"enabled": True, "attempt_timeout_s": DEADLINE_S, "request_timeout_s": DEADLINE_S})


def prepare(chaos) -> None:
    chaos.set_policy(MESH, "pricing", MESH_PRICING)
    for i in ("pricing-1", "pricing-2"):
        chaos.faults.misbehave(i, error_rate=0.0, delay_ms=DELAY_MS)
    chaos.reset_stats("pricing-1", "pricing-2")


def call(chaos, where, propagate: bool):
    if where == EDGE:  # the page through the gateway: storefront → its sidecar → pricing
        # control arm: no deadline from the gateway, and the client gives up at 600 ms
        return chaos.request(
            "GET",
            f"{chaos.gateway}/api/storefront/1",
            {"X-Api-Key": chaos.key},
            timeout_s=5.0 if propagate else DEADLINE_S,
        )
    # the test is an app calling pricing through its sidecar, with or without passing on
    # its 600 ms deadline (it waits either way: the app does not know better)
    headers = {"X-Gatemesh-Deadline-Ms": str(int(DEADLINE_S * 1000))} if propagate else {}
    return chaos.call(MESH, "pricing", headers=headers, timeout_s=5.0)


def tries_at_pricing(chaos) -> int:
    """Wait until the caller's sidecar has nothing in flight to pricing, then count."""
    chaos.wait_until(
        "the mesh finished with pricing", lambda: chaos.upstreams(MESH)["pricing"]["in_flight"] == 0, timeout_s=10
    )
    return chaos.stats("pricing-1") + chaos.stats("pricing-2")


@pytest.mark.parametrize("where", WHERE)
def test_mesh_stops_when_the_callers_deadline_is_spent(chaos, where):
    if where == EDGE:
        chaos.set_policy(EDGE, "storefront", EDGE_STOREFRONT)
    prepare(chaos)
    r = call(chaos, where, propagate=True)

    assert r.elapsed_s <= DEADLINE_S + MARGIN_S, r
    assert r.status in (503, 504), r
    tries = tries_at_pricing(chaos)
    assert 1 <= tries <= MOST_WITH_DEADLINE, f"{tries} tries reached pricing after a {DEADLINE_S}s deadline"


@pytest.mark.parametrize("where", WHERE)
def test_control_without_a_deadline_the_mesh_works_on_after_the_caller_left(chaos, where):
    prepare(chaos)
    r = call(chaos, where, propagate=False)

    if where == EDGE:
        assert r.status == 0, f"the client should have given up at {DEADLINE_S}s: {r}"
    else:
        assert r.elapsed_s >= TRIES * ATTEMPT_S, f"the app should have waited for every try: {r}"
    tries = tries_at_pricing(chaos)
    assert tries == TRIES, f"{tries} tries reached pricing; without a deadline the mesh keeps retrying"
    assert tries > MOST_WITH_DEADLINE
