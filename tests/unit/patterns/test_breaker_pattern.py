"""gatemesh.patterns.breaker: the state machine and the Transition events it emits."""

import pytest

from gatemesh.clock import FakeClock
from gatemesh.patterns.breaker import BreakerConfig, BreakerState, CircuitBreaker, Transition

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def make(**kwargs):
    clock = FakeClock()
    events: list[Transition] = []
    breaker = CircuitBreaker("catalog", BreakerConfig(**kwargs), clock, events.append)
    return breaker, clock, events


def call(breaker, ok, duration=0.01):
    assert breaker.try_acquire()
    (breaker.on_success if ok else breaker.on_failure)(duration)


def test_consecutive_failures_open_the_circuit_and_emit_one_transition():
    breaker, clock, events = make(consecutive_failures=3, minimum_calls=100, window_size=100)
    call(breaker, False)
    call(breaker, False)
    assert breaker.state is CLOSED
    clock.advance(1)
    call(breaker, False)
    assert breaker.state is OPEN
    assert len(events) == 1
    t = events[0]
    assert (t.name, t.from_state, t.to_state, t.at) == ("catalog", CLOSED, OPEN, 1.0)
    assert "3 consecutive failures" in t.cause and t.cause.endswith(".")


def test_a_success_resets_the_consecutive_count():
    breaker, _, _ = make(consecutive_failures=3, minimum_calls=100, window_size=100)
    for _ in range(5):
        call(breaker, False)
        call(breaker, False)
        call(breaker, True)
    assert breaker.state is CLOSED


def test_failure_rate_opens_only_after_minimum_calls():
    breaker, _, events = make(consecutive_failures=0, failure_rate_threshold=0.5, window_size=10, minimum_calls=6)
    for ok in (False, True, False, True, False):  # 60% failed, but only 5 calls
        call(breaker, ok)
    assert breaker.state is CLOSED
    call(breaker, False)  # 4 of 6
    assert breaker.state is OPEN
    assert "4 of the last 6 calls failed" in events[0].cause


def test_failure_rate_is_over_a_sliding_window_of_recent_calls():
    breaker, _, _ = make(consecutive_failures=0, failure_rate_threshold=0.5, window_size=4, minimum_calls=4)
    for ok in (False, False, True, True):  # 50% → would open; but the 4th is a success
        call(breaker, ok)
    # The rate is checked on failures: failures at positions 1 and 2 saw fewer than 4 calls.
    assert breaker.state is CLOSED
    call(breaker, True)  # window: F T T T
    call(breaker, True)  # window: T T T T
    call(breaker, False)  # window: T T T F → 25%
    assert breaker.state is CLOSED
    call(breaker, False)  # T T F F → 50%
    assert breaker.state is OPEN


def test_minimum_calls_larger_than_the_window_is_capped_at_the_window():
    breaker, _, _ = make(consecutive_failures=0, window_size=4, minimum_calls=10)
    for _ in range(4):
        call(breaker, False)
    assert breaker.state is OPEN


def test_slow_successes_count_as_failures_when_slow_call_s_is_set():
    breaker, _, events = make(consecutive_failures=2, slow_call_s=0.5)
    call(breaker, True, duration=0.4)
    call(breaker, True, duration=0.9)
    call(breaker, True, duration=1.2)
    assert breaker.state is OPEN
    assert "slower than slow_call_s=0.5" in events[0].cause


def test_slow_calls_are_fine_when_slow_call_s_is_unset():
    breaker, _, _ = make(consecutive_failures=2)
    for _ in range(5):
        call(breaker, True, duration=30.0)
    assert breaker.state is CLOSED


def test_open_rejects_fast_until_open_s_has_passed_then_goes_half_open():
    breaker, clock, events = make(consecutive_failures=1, open_s=5.0)
    call(breaker, False)
    assert not breaker.try_acquire()
    clock.advance(4.99)
    assert not breaker.try_acquire()
    assert breaker.state is OPEN
    clock.advance(0.01)
    assert breaker.state is HALF_OPEN  # reading the state is enough to notice
    assert [(t.from_state, t.to_state) for t in events] == [(CLOSED, OPEN), (OPEN, HALF_OPEN)]
    assert events[1].at == 5.0
    assert breaker.rejected == 2


def test_half_open_allows_only_max_probes_in_flight():
    breaker, clock, _ = make(consecutive_failures=1, open_s=1.0, half_open_max_probes=2)
    call(breaker, False)
    clock.advance(1)
    assert breaker.try_acquire()
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    breaker.on_ignored()  # a probe cancelled: its slot is free again
    assert breaker.try_acquire()
    assert not breaker.try_acquire()


def test_enough_probe_successes_close_the_circuit():
    breaker, clock, events = make(consecutive_failures=1, open_s=1.0, half_open_max_probes=3)
    call(breaker, False)
    clock.advance(1)
    for _ in range(3):
        assert breaker.try_acquire()
    breaker.on_success(0.01)
    breaker.on_success(0.01)
    assert breaker.state is HALF_OPEN
    assert breaker.try_acquire()  # a slot freed by a finished probe
    breaker.on_success(0.01)
    assert breaker.state is CLOSED
    assert events[-1].from_state is HALF_OPEN and events[-1].to_state is CLOSED
    assert "3 half-open probes succeeded" in events[-1].cause


def test_a_failed_probe_reopens_for_open_s_again():
    breaker, clock, events = make(consecutive_failures=1, open_s=2.0)
    call(breaker, False)
    clock.advance(2)
    call(breaker, True)
    call(breaker, False)
    assert breaker.state is OPEN
    assert events[-1].from_state is HALF_OPEN and "probe failed" in events[-1].cause
    clock.advance(1.9)
    assert not breaker.try_acquire()
    clock.advance(0.1)
    assert breaker.try_acquire()


def test_closing_starts_a_fresh_window():
    breaker, clock, _ = make(consecutive_failures=0, window_size=4, minimum_calls=4, open_s=1, half_open_max_probes=1)
    for _ in range(4):
        call(breaker, False)
    clock.advance(1)
    call(breaker, True)
    assert breaker.state is CLOSED
    call(breaker, False)  # one failure in a fresh window is not a 100% rate over 4 calls
    assert breaker.state is CLOSED
    assert breaker.snapshot()["window_calls"] == 1


def test_results_of_calls_admitted_before_opening_are_ignored():
    breaker, _, events = make(consecutive_failures=1)
    assert breaker.try_acquire()  # a slow call still in flight
    call(breaker, False)
    breaker.on_success(0.01)
    breaker.on_failure(0.01)
    assert breaker.state is OPEN and len(events) == 1


def test_disabled_breaker_always_acquires_and_records_nothing():
    breaker, _, events = make(enabled=False, consecutive_failures=1)
    for _ in range(10):
        call(breaker, False)
    assert breaker.state is CLOSED and events == []


def test_reconfigure_keeps_the_state_and_disabling_admits_everything():
    breaker, _, _ = make(consecutive_failures=1, open_s=60)
    call(breaker, False)
    breaker.reconfigure(BreakerConfig(consecutive_failures=10, open_s=60))
    assert breaker.state is OPEN
    assert not breaker.try_acquire()
    breaker.reconfigure(BreakerConfig(enabled=False))
    assert breaker.try_acquire()


def test_without_a_listener_transitions_still_happen():
    breaker = CircuitBreaker("x", BreakerConfig(consecutive_failures=1), FakeClock())
    call(breaker, False)
    assert breaker.state is OPEN


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"consecutive_failures": -1}, "breaker.consecutive_failures"),
        ({"failure_rate_threshold": 0}, "breaker.failure_rate_threshold"),
        ({"failure_rate_threshold": 1.5}, "breaker.failure_rate_threshold"),
        ({"window_size": 0}, "breaker.window_size"),
        ({"minimum_calls": 0}, "breaker.minimum_calls"),
        ({"slow_call_s": 0}, "breaker.slow_call_s"),
        ({"open_s": 0}, "breaker.open_s"),
        ({"half_open_max_probes": 0}, "breaker.half_open_max_probes"),
    ],
)
def test_breaker_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        BreakerConfig(**kwargs)
