"""gatemesh.pipeline on a fake clock and a fake pool: each pattern's decision, and the
order of the layers (logical → concrete → endpoint), in milliseconds of real time.

Every case that shows a pattern acting has its control arm (the pattern off, the
failure asserted), as the socket tests and the chaos suite do.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from gatemesh.outcome import Outcome
from gatemesh.patterns.breaker import BreakerConfig, BreakerState
from gatemesh.patterns.budget import RetryBudgetConfig
from gatemesh.patterns.concurrency import ConcurrencyConfig
from gatemesh.patterns.deadline import Deadline, TimeoutConfig
from gatemesh.patterns.fallback import FallbackConfig
from gatemesh.patterns.outlier import OutlierConfig
from gatemesh.patterns.retry import RetryConfig
from gatemesh.pipeline import ATTEMPT_HEADER, ResilientCaller
from gatemesh.policy import Policy, all_off
from gatemesh.reasons import Reason
from gatemesh.refusal import Refusal

from fakepool import ConnectFailed, FakeResponse, Slow, UpstreamReset, caller_with

OFF = all_off()


def with_(policy: Policy, **sections) -> Policy:
    return dataclasses.replace(policy, **sections)


def call(
    caller: ResilientCaller,
    method: bytes = b"GET",
    *,
    key: bool = False,
    deadline: Deadline | None = None,
    service: str = "svc",
) -> Outcome | Refusal:
    async def go() -> Outcome | Refusal:
        try:
            return await caller.call(service, method, b"/x", [(b"host", b"svc")], b"", deadline, key)
        except Refusal as r:
            return r

    return asyncio.run(go())


def requests_metric(caller: ResilientCaller, outcome: str) -> int:
    count = caller.metrics._requests.get(("svc", outcome))  # type: ignore[attr-defined]
    return count.value if count is not None else 0


# --- logical layer -------------------------------------------------------------------


def test_unknown_service_and_no_endpoints_are_named_refusals():
    caller, pool, _ = caller_with(OFF, instances=0)
    assert call(caller, service="nope").reason is Reason.UNKNOWN_SERVICE
    assert call(caller).reason is Reason.NO_HEALTHY_UPSTREAM
    assert pool.sent == []


def test_retry_moves_to_another_instance_and_the_control_arm_answers_the_503():
    caller, pool, _ = caller_with(with_(OFF, retry=RetryConfig()))
    pool.next(503)
    result = call(caller)
    assert isinstance(result, Outcome) and result.status == 200 and result.attempts == 2
    first, second = pool.ports()
    assert first != second and result.instance == f"i{second}"
    assert [s.header(ATTEMPT_HEADER) for s in pool.sent] == [b"1", b"2"]
    assert caller.clock.sleeps and 0 <= caller.clock.sleeps[0] <= RetryConfig().backoff_base_s  # full jitter

    control, pool, _ = caller_with(OFF)
    pool.next(503)
    result = call(control)
    assert isinstance(result, Outcome) and result.status == 503 and result.attempts == 1


def test_a_write_is_retried_only_with_an_idempotency_key_but_a_failed_connect_always():
    caller, pool, _ = caller_with(with_(OFF, retry=RetryConfig()))
    pool.next(503)
    assert call(caller, b"POST").status == 503 and len(pool.sent) == 1
    pool.next(503)
    assert call(caller, b"POST", key=True).status == 200 and len(pool.sent) == 3
    pool.next(ConnectFailed("refused"))
    assert call(caller, b"POST").status == 200 and len(pool.sent) == 5


def test_a_reset_with_no_answer_becomes_a_refusal_naming_it():
    caller, pool, _ = caller_with(OFF)
    pool.next(UpstreamReset("peer closed"))
    refusal = call(caller)
    assert isinstance(refusal, Refusal) and refusal.reason is Reason.UPSTREAM_RESET and refusal.status == 502
    assert f"instance i{pool.sent[0].port}: upstream reset" in refusal.message
    assert requests_metric(caller, "upstream-reset") == 1


def test_attempt_timeout_bounds_each_try_and_the_control_arm_waits():
    policy = with_(OFF, timeout=TimeoutConfig(attempt_timeout_s=0.2, request_timeout_s=1.0))
    caller, pool, clock = caller_with(policy)
    pool.next(Slow(3.0))
    started = clock.monotonic()
    refusal = call(caller)
    assert isinstance(refusal, Refusal) and refusal.reason is Reason.TIMEOUT
    assert clock.monotonic() - started == pytest.approx(0.2)
    assert pool.sent[0].timeout_s == pytest.approx(0.2)
    assert pool.sent[0].header(b"x-gatemesh-deadline-ms") == b"1000"

    control, pool, clock = caller_with(OFF)
    pool.next(Slow(3.0))
    result = call(control)
    assert isinstance(result, Outcome) and result.status == 200 and pool.sent[0].timeout_s is None


def test_the_attempt_timeout_is_cut_to_what_is_left_of_the_callers_deadline():
    caller, pool, clock = caller_with(with_(OFF, timeout=TimeoutConfig(attempt_timeout_s=1.0)))
    call(caller, deadline=Deadline.after(clock, 0.3))
    assert pool.sent[0].timeout_s == pytest.approx(0.3)
    assert int(pool.sent[0].header(b"x-gatemesh-deadline-ms")) in (299, 300)  # rounded down


def test_an_expired_deadline_is_refused_before_anything_is_sent():
    caller, pool, clock = caller_with(OFF)
    deadline = Deadline.after(clock, 0.1)
    clock.advance(0.2)
    assert call(caller, deadline=deadline).reason is Reason.DEADLINE_EXCEEDED
    assert pool.sent == []


def test_retries_stop_at_the_deadline():
    policy = with_(
        OFF, retry=RetryConfig(max_attempts=5), timeout=TimeoutConfig(attempt_timeout_s=0.3, request_timeout_s=0.5)
    )
    caller, pool, _ = caller_with(policy)
    pool.default = Slow(1.0)
    assert call(caller).reason is Reason.TIMEOUT
    assert len(pool.sent) == 2 and pool.sent[1].timeout_s <= 0.2 + 1e-9


def test_concurrency_limit_refuses_beyond_max_in_flight_and_the_control_arm_queues():
    async def two(caller: ResilientCaller) -> list:
        async def one():
            try:
                return (await caller.call("svc", b"GET", b"/x", [], b"")).status
            except Refusal as r:
                return r.reason

        return await asyncio.gather(one(), one())

    caller, pool, _ = caller_with(with_(OFF, concurrency=ConcurrencyConfig(max_in_flight=1)))
    pool.default = Slow(0.1)
    assert sorted(map(str, asyncio.run(two(caller)))) == ["200", "overloaded"]
    control, pool, _ = caller_with(OFF)
    pool.default = Slow(0.1)
    assert asyncio.run(two(control)) == [200, 200]


def test_service_breaker_opens_then_fails_fast_without_calling_and_half_opens_after_open_s():
    breaker = BreakerConfig(consecutive_failures=3, open_s=5.0, half_open_max_probes=1)
    caller, pool, clock = caller_with(with_(OFF, breaker=breaker), instances=1)
    pool.default = 503
    for _ in range(3):
        assert call(caller).status == 503
    assert caller.upstreams["svc"].breaker.state is BreakerState.OPEN
    assert call(caller).reason is Reason.CIRCUIT_OPEN and len(pool.sent) == 3
    clock.advance(5.0)
    pool.default = 200
    assert call(caller).status == 200
    assert caller.upstreams["svc"].breaker.state is BreakerState.CLOSED

    control, pool, _ = caller_with(OFF, instances=1)
    pool.default = 503
    assert [call(control).status for _ in range(5)] == [503] * 5 and len(pool.sent) == 5


def test_an_instance_breaker_steers_traffic_away_from_its_instance_only():
    breaker = BreakerConfig(consecutive_failures=2)
    caller, pool, _ = caller_with(with_(OFF, breaker=breaker, retry=RetryConfig()), instances=2)
    pool.script(1, 503, 503)
    for _ in range(4):
        assert call(caller).status == 200
    up = caller.upstreams["svc"]
    assert up.instance_breakers["i1"].state is BreakerState.OPEN
    assert up.breaker.state is BreakerState.CLOSED
    assert pool.ports()[-2:] == [2, 2]


def test_open_instance_breakers_leave_no_endpoint_and_busy_half_open_ones_are_circuit_open():
    breaker = BreakerConfig(consecutive_failures=1, open_s=5.0, half_open_max_probes=1)
    no_panic = dataclasses.replace(OFF.outlier, panic_threshold_percent=0.0)
    caller, pool, clock = caller_with(with_(OFF, breaker=breaker, outlier=no_panic), instances=2)
    up = caller.upstreams["svc"]
    for i in ("i1", "i2"):
        up.instance_breaker(i).on_failure(0.0)
    assert call(caller).reason is Reason.NO_HEALTHY_UPSTREAM and pool.sent == []
    # with panic routing (the default 50%) every endpoint is a candidate again, and each
    # open breaker refuses in the endpoint layer: nothing is sent either way
    panicky, pool, _ = caller_with(with_(OFF, breaker=breaker), instances=2)
    for i in ("i1", "i2"):
        panicky.upstreams["svc"].instance_breaker(i).on_failure(0.0)
    assert call(panicky).reason is Reason.CIRCUIT_OPEN and pool.sent == []
    clock.advance(5.0)
    for i in ("i1", "i2"):  # half-open, and each one's only probe taken by another request
        assert up.instance_breaker(i).state is BreakerState.HALF_OPEN and up.instance_breaker(i).try_acquire()
    assert call(caller).reason is Reason.CIRCUIT_OPEN and pool.sent == []


def test_outlier_ejection_takes_the_failing_instance_out_and_the_control_arm_keeps_sending():
    outlier = OutlierConfig(consecutive_errors=2, max_ejection_percent=50.0)
    caller, pool, _ = caller_with(with_(OFF, outlier=outlier), instances=2)
    pool.script(1, 500, 500)
    for _ in range(6):
        call(caller)
    assert caller.upstreams["svc"].outlier.is_ejected("i1")
    assert pool.ports()[4:] == [2, 2]

    control, pool, _ = caller_with(OFF, instances=2)
    pool.script(1, 500, 500)
    for _ in range(6):
        call(control)
    assert pool.ports().count(1) == 3


def test_an_empty_retry_budget_stops_retries_and_says_so():
    budget = RetryBudgetConfig(ratio=0.01, min_retries_per_s=0.1, window_s=10.0)
    caller, pool, _ = caller_with(with_(OFF, retry=RetryConfig(), budget=budget))
    pool.default = 503
    results = [call(caller) for _ in range(3)]
    assert results[-1].status == 503 and results[-1].reason is Reason.RETRY_BUDGET_EXHAUSTED
    assert caller.events.since(0)[-1]["kind"] == "retry-budget-exhausted"
    pool.default = ConnectFailed("refused")
    assert call(caller).reason is Reason.RETRY_BUDGET_EXHAUSTED  # no answer at all: a refusal

    control, pool, _ = caller_with(with_(OFF, retry=RetryConfig()))
    pool.default = 503
    assert all(call(control).attempts == 3 for _ in range(3))


def test_fallback_answers_a_failed_get_with_the_last_good_one_and_names_its_cause():
    caller, pool, _ = caller_with(with_(OFF, fallback=FallbackConfig(enabled=True)), instances=1)
    pool.script(1, FakeResponse(200, b'{"good": 1}'), 503, ConnectFailed("refused"))
    assert call(caller).status == 200
    served = call(caller)
    assert served.reason is Reason.FALLBACK and served.body == b'{"good": 1}' and served.response is None
    assert (b"x-gatemesh-fallback-cause", b"upstream-error") in served.headers
    refused = call(caller)
    assert refused.reason is Reason.FALLBACK
    assert (b"x-gatemesh-fallback-cause", b"connect-failed") in refused.headers
    assert requests_metric(caller, "fallback") == 2

    control, pool, _ = caller_with(OFF, instances=1)
    pool.script(1, 200, 503, ConnectFailed("refused"))
    assert [call(control).status for _ in range(3)] == [200, 503, 503]


def test_layer_order_deadline_before_concurrency_before_the_service_breaker():
    policy = with_(OFF, concurrency=ConcurrencyConfig(max_in_flight=1), breaker=BreakerConfig(consecutive_failures=1))
    caller, pool, clock = caller_with(policy)
    up = caller.upstreams["svc"]
    up.breaker.on_failure(0.0)
    assert up.breaker.state is BreakerState.OPEN
    deadline = Deadline.after(clock, 0.0)
    assert call(caller, deadline=deadline).reason is Reason.DEADLINE_EXCEEDED
    assert up.limiter.try_acquire()  # the limiter was never taken by the refused call
    assert call(caller).reason is Reason.OVERLOADED
    up.limiter.release()
    assert call(caller).reason is Reason.CIRCUIT_OPEN
    assert up.limiter.in_flight == 0 and pool.sent == []


def test_layer_order_the_concrete_layer_picks_before_the_endpoint_layer_times_the_attempt():
    policy = with_(OFF, timeout=TimeoutConfig(attempt_timeout_s=0.25), retry=RetryConfig(), outlier=OutlierConfig())
    caller, pool, _ = caller_with(policy, instances=2)
    for _ in range(OutlierConfig().consecutive_errors):  # i1 ejected: it never reaches the endpoint layer
        caller.upstreams["svc"].outlier.on_result("i1", False, 2)
    call(caller)
    assert pool.ports() == [2] and pool.sent[0].timeout_s == pytest.approx(0.25)


def test_a_cancelled_call_releases_the_limiter_and_does_not_count_against_the_breakers():
    caller, pool, _ = caller_with(with_(OFF, breaker=BreakerConfig(), concurrency=ConcurrencyConfig()), instances=1)
    pool.default = Slow(10.0)

    async def go():
        task = asyncio.ensure_future(caller.call("svc", b"GET", b"/x", [], b""))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    up = caller.upstreams["svc"]
    assert up.limiter.in_flight == 0 and up.breaker.state is BreakerState.CLOSED


def test_reset_forgets_breakers_ejections_budgets_and_fallback_answers():
    policy = with_(OFF, breaker=BreakerConfig(consecutive_failures=1), fallback=FallbackConfig(enabled=True))
    caller, pool, _ = caller_with(policy, instances=1)
    call(caller)
    pool.default = 503
    call(caller)
    up = caller.upstreams["svc"]
    assert up.breaker.state is BreakerState.OPEN and len(up.cache) == 1
    assert caller.reset() == ["svc"]
    up = caller.upstreams["svc"]
    assert up.breaker.state is BreakerState.CLOSED and len(up.cache) == 0 and up.instance_breakers == {}
    assert caller.events.since(0)[-1]["kind"] == "state-reset"
