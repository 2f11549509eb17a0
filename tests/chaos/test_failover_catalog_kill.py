"""failover + retries — catalog-2 (one of three) is killed (kill -9) during a steady burst.

With retries (on another instance) and an attempt timeout: zero client-visible errors.
Without them: the calls that meet catalog-2 after the kill fail.
"""

from __future__ import annotations

import threading
import time

import pytest

from chaoslib import EDGE, MESH, Result, only

CALLS = 120
KILL_AFTER = 40  # completed calls before the kill
CONCURRENCY = 4

pytestmark = [pytest.mark.balancing, pytest.mark.retry]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
ON = only(
    retry={"enabled": True, "max_attempts": 3, "backoff_base_s": 0.005, "backoff_max_s": 0.02},
    timeout={"enabled": True, "attempt_timeout_s": 1.0, "request_timeout_s": 3.0},
)


def burst_with_kill(chaos, where) -> tuple[list[Result], float]:
    """CALLS calls on CONCURRENCY threads; catalog-2 is killed (from this thread: the
    runner's children belong to it) once KILL_AFTER have completed."""
    results: list[Result] = []
    completed: list[int] = []
    done = threading.Event()

    def one(i: int) -> Result:
        r = chaos.call(where, "catalog")
        completed.append(i)
        return r

    def load() -> None:
        try:
            results.extend(chaos.burst(one, CALLS, CONCURRENCY))
        finally:
            done.set()

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    chaos.wait_until(f"{KILL_AFTER} calls completed", lambda: len(completed) >= KILL_AFTER or done.is_set())
    kill_sent = time.monotonic()
    chaos.faults.kill("catalog-2")
    assert done.wait(60), "the burst did not finish"
    return results, kill_sent


@pytest.mark.parametrize("where", WHERE)
def test_instance_killed_mid_burst_costs_no_client_error(chaos, where):
    chaos.set_policy(where, "catalog", ON)
    results, kill_sent = burst_with_kill(chaos, where)

    assert len(results) == CALLS
    errors = [r for r in results if not r.ok]
    assert not errors, errors
    late = [r for r in results if r.started_s > kill_sent + 0.05]
    assert len(late) >= CALLS // 4, "too few calls after the kill to judge"
    assert all(r.instance in ("catalog-1", "catalog-3") for r in late), late
    assert any(int(r.attempts.split(",")[0].split("=")[1]) >= 2 for r in late), (
        "no call was retried: did the kill land?"
    )


@pytest.mark.parametrize("where", WHERE)
def test_control_without_retries_the_killed_instance_costs_errors(chaos, where):
    chaos.set_policy(where, "catalog", only())
    results, kill_sent = burst_with_kill(chaos, where)

    assert len(results) == CALLS
    early = [r for r in results if r.started_s + r.elapsed_s < kill_sent]
    assert all(r.ok for r in early), [r for r in early if not r.ok]
    late = [r for r in results if r.started_s > kill_sent + 0.05]
    errors = [r for r in late if not r.ok]
    # round robin sends a third of the calls to catalog-2: expect ~len(late)/3 errors
    assert len(errors) >= max(3, len(late) // 6), f"{len(errors)} errors in {len(late)} calls after the kill"
    assert all(r.status in (502, 503) for r in errors), errors
