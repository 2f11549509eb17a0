"""idempotency — orders-1's answers are lost on the way back (Toxiproxy ``limit_data``
on the downstream stream: the order is created, the response is cut after 1 byte; under
mTLS, a few bytes past the handshake: ``chaos.answer_cut_bytes``).

With an ``Idempotency-Key`` the proxy may retry the POST (on the other instance, same
key): every client call succeeds and each key makes exactly one order. Without a key
the proxy must not retry a POST; a naive client that retries on the error makes a
duplicate for every lost answer — that is the lesson.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from chaoslib import EDGE, MESH, only

POSTS = 6
ORDER = {"product_id": 3, "quantity": 1}

pytestmark = [pytest.mark.idempotency]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
RETRY = {"enabled": True, "max_attempts": 2, "backoff_base_s": 0.005, "backoff_max_s": 0.01}


def orders(chaos) -> list[dict]:
    """The latest orders, read from orders-2's app directly (no proxy, no fault)."""
    return chaos.app_json("orders-2", "/orders?limit=1000")["orders"]


def first_hop_attempts(r) -> int:
    return int(r.attempts.split(",")[0].split("=")[1]) if r.attempts else 0


@pytest.mark.parametrize("where", WHERE)
def test_lost_answers_are_retried_with_the_key_and_make_one_order_each(chaos, where):
    chaos.set_policy(where, "orders", only(retry=RETRY))
    before = {o["id"] for o in orders(chaos)}
    chaos.faults.limit_data("orders-1", bytes=chaos.answer_cut_bytes("orders-1"))
    keys = [f"chaos-{uuid.uuid4()}" for _ in range(POSTS)]
    results = [chaos.call(where, "orders", "", "POST", json=ORDER, headers={"Idempotency-Key": k}) for k in keys]

    assert all(r.status in (200, 201) for r in results), results
    retried = [r for r in results if first_hop_attempts(r) == 2]
    assert retried, f"no POST met orders-1's fault: {results}"
    assert all(r.status == 200 and r.headers.get("Idempotent-Replayed") == "true" for r in retried), retried
    new = [o for o in orders(chaos) if o["id"] not in before]
    assert Counter(o["idempotency_key"] for o in new) == Counter(keys), new


@pytest.mark.parametrize("where", WHERE)
def test_control_without_key_a_naive_client_retry_duplicates_orders(chaos, where):
    chaos.set_policy(where, "orders", only(retry=RETRY))
    before = {o["id"] for o in orders(chaos)}
    chaos.faults.limit_data("orders-1", bytes=chaos.answer_cut_bytes("orders-1"))
    failures = 0
    for _ in range(POSTS):
        r = chaos.call(where, "orders", "", "POST", json=ORDER)
        if r.status not in (200, 201):
            assert first_hop_attempts(r) <= 1, f"a POST without a key was retried by the proxy: {r}"
            failures += 1
            assert chaos.call(where, "orders", "", "POST", json=ORDER).status in (200, 201)  # the naive retry
    new = [o for o in orders(chaos) if o["id"] not in before]

    assert failures >= 1, "no POST met orders-1's fault"
    assert len(new) == POSTS + failures, f"{len(new)} orders for {POSTS} intended ({failures} lost answers)"
    assert len(new) > POSTS  # duplicates: each lost answer was an order made twice
