"""retry budget — every pricing instance fails every call with a 503.

With retries (3 tries) under a budget (retries ≤ 20% of requests + 1/s over 10 s): the
attempts that reach pricing stay within (1 + 0.2) x requests + 10. Without the budget
the same retries triple the load on a service that is already down.
"""

from __future__ import annotations

import pytest

from chaoslib import EDGE, MESH, only

REQUESTS = 50
TRIES = 3
RATIO = 0.2
MIN_PER_S = 1.0
WINDOW_S = 10.0
FLOOR = MIN_PER_S * WINDOW_S

pytestmark = [pytest.mark.retry]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
RETRY = {"enabled": True, "max_attempts": TRIES, "backoff_base_s": 0.001, "backoff_max_s": 0.005}
BUDGET = {"enabled": True, "ratio": RATIO, "min_retries_per_s": MIN_PER_S, "window_s": WINDOW_S}


def run(chaos, where) -> tuple[list, int]:
    for i in ("pricing-1", "pricing-2"):
        chaos.faults.misbehave(i, error_rate=1.0, error_status=503)
    chaos.reset_stats("pricing-1", "pricing-2")
    results = chaos.burst(lambda i: chaos.call(where, "pricing"), REQUESTS, concurrency=2)
    return results, chaos.stats("pricing-1") + chaos.stats("pricing-2")


@pytest.mark.parametrize("where", WHERE)
def test_budget_caps_retry_amplification(chaos, where):
    chaos.set_policy(where, "pricing", only(retry=RETRY, budget=BUDGET))
    results, attempts = run(chaos, where)

    assert len(results) == REQUESTS and all(r.status == 503 for r in results), results
    assert attempts <= (1 + RATIO) * REQUESTS + FLOOR, f"{attempts} attempts for {REQUESTS} requests"
    assert attempts > REQUESTS, "no retry at all: the budget should still allow some"
    assert any(r.reason == "retry-budget-exhausted" for r in results), results


@pytest.mark.parametrize("where", WHERE)
def test_control_without_budget_retries_triple_the_load(chaos, where):
    chaos.set_policy(where, "pricing", only(retry=RETRY))
    results, attempts = run(chaos, where)

    assert len(results) == REQUESTS and all(r.status == 503 for r in results), results
    assert attempts == TRIES * REQUESTS, f"{attempts} attempts for {REQUESTS} requests"
    assert attempts > (1 + RATIO) * REQUESTS + FLOOR
