"""gatemesh.patterns.budget: retries capped at ratio x recent requests plus a floor."""

import pytest

from gatemesh.clock import FakeClock
from gatemesh.patterns.budget import RetryBudget, RetryBudgetConfig


def drain(budget):
    n = 0
    while budget.try_withdraw():
        n += 1
        assert n < 100_000
    return n


def test_defaults_are_linkerds():
    cfg = RetryBudgetConfig()
    assert (cfg.ratio, cfg.min_retries_per_s, cfg.window_s) == (0.2, 10.0, 10.0)


def test_floor_alone_allows_min_retries_per_s_times_window_with_no_traffic():
    budget = RetryBudget(RetryBudgetConfig(ratio=0.2, min_retries_per_s=1, window_s=10), FakeClock())
    assert drain(budget) == 10


def test_each_request_adds_ratio_of_a_retry_on_top_of_the_floor():
    budget = RetryBudget(RetryBudgetConfig(ratio=0.2, min_retries_per_s=0, window_s=10), FakeClock())
    for _ in range(50):
        budget.record_request()
    assert drain(budget) == 10  # 20% of 50
    budget.record_request()
    budget.record_request()
    budget.record_request()
    budget.record_request()
    budget.record_request()
    assert drain(budget) == 1  # 55 requests -> 11 retries in all


def test_ratio_and_floor_add_up():
    budget = RetryBudget(RetryBudgetConfig(ratio=0.1, min_retries_per_s=0.5, window_s=10), FakeClock())
    for _ in range(30):
        budget.record_request()
    assert drain(budget) == 3 + 5


def test_old_requests_and_retries_leave_the_window():
    clock = FakeClock()
    budget = RetryBudget(RetryBudgetConfig(ratio=0.5, min_retries_per_s=0, window_s=10), clock)
    for _ in range(10):
        budget.record_request()
    assert drain(budget) == 5
    clock.advance(5)
    for _ in range(10):
        budget.record_request()
    assert drain(budget) == 5  # 20 requests -> 10, 5 already spent
    clock.advance(5.5)  # the first batch (and its retries) has left the window
    assert budget.snapshot()["requests"] == 10
    assert drain(budget) == 0  # 10 requests -> 5, and the second batch's 5 retries still count
    clock.advance(5)
    assert budget.snapshot()["requests"] == 0
    assert drain(budget) == 0


def test_a_long_idle_gap_empties_every_bucket():
    clock = FakeClock(start=1234.5)
    budget = RetryBudget(RetryBudgetConfig(ratio=1.0, min_retries_per_s=0, window_s=10), clock)
    for _ in range(7):
        budget.record_request()
    clock.advance(3600)
    snap = budget.snapshot()
    assert (snap["requests"], snap["retries"]) == (0, 0)


def test_disabled_budget_never_refuses():
    budget = RetryBudget(RetryBudgetConfig(enabled=False, min_retries_per_s=0), FakeClock())
    assert all(budget.try_withdraw() for _ in range(1000))


def test_snapshot_reports_counts_and_refusals():
    budget = RetryBudget(RetryBudgetConfig(ratio=0.2, min_retries_per_s=0, window_s=10), FakeClock())
    for _ in range(10):
        budget.record_request()
    assert budget.try_withdraw() and budget.try_withdraw()
    assert not budget.try_withdraw()
    snap = budget.snapshot()
    assert snap["requests"] == 10 and snap["retries"] == 2
    assert snap["allowed"] == 2 and snap["available"] == 0 and snap["rejected"] == 1


def test_reconfigure_keeps_counts_when_the_window_is_unchanged():
    budget = RetryBudget(RetryBudgetConfig(ratio=0.1, min_retries_per_s=0), FakeClock())
    for _ in range(20):
        budget.record_request()
    budget.reconfigure(RetryBudgetConfig(ratio=0.5, min_retries_per_s=0))
    assert drain(budget) == 10


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"ratio": -0.1}, "budget.ratio"),
        ({"min_retries_per_s": -1}, "budget.min_retries_per_s"),
        ({"window_s": 0.5}, "budget.window_s"),
        ({"window_s": 61}, "budget.window_s"),
    ],
)
def test_budget_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        RetryBudgetConfig(**kwargs)
