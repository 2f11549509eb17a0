"""Panic routing on the fake clock: below the panic threshold of healthy endpoints the
upstream balances over all of them (ejected ones included); a retry whose healthy
endpoints all failed it may go to an ejected one; 0 turns both off (issue 12, item 2)."""

from __future__ import annotations

import random

import pytest

from gatemesh.clock import FakeClock
from gatemesh.discovery import Endpoint
from gatemesh.events import EventLog
from gatemesh.metrics import ProxyMetrics
from gatemesh.patterns import ConfigError
from gatemesh.patterns.outlier import OutlierConfig
from gatemesh.patterns.panic import PanicRouter
from gatemesh.policy import Policy
from gatemesh.upstream import Upstream


def upstream(
    n: int, threshold: float = 50.0, max_ejection_percent: float = 10.0
) -> tuple[Upstream, FakeClock, EventLog]:
    clock = FakeClock()
    events = EventLog("test")
    policy = Policy().merged(
        {"outlier": {"panic_threshold_percent": threshold, "max_ejection_percent": max_ejection_percent}}
    )
    up = Upstream("orders", policy, clock, random.Random(1), ProxyMetrics("test"), events)
    up.set_endpoints([Endpoint(f"orders-{i}", "127.0.0.1", 18000 + i) for i in range(1, n + 1)])
    return up, clock, events


def eject(up: Upstream, instance: str) -> None:
    for _ in range(up.policy.outlier.consecutive_errors):
        up.outlier.on_result(instance, False, len(up.ids))
    assert up.outlier.is_ejected(instance)


def picks(up: Upstream, n: int = 20, tried: set[str] | None = None) -> set[str]:
    return {up.pick(set(tried or ())).id for _ in range(n)}


def test_the_default_is_envoys_50_percent():
    assert OutlierConfig().panic_threshold_percent == 50.0


def test_at_the_threshold_ejected_endpoints_stay_out():
    up, _, events = upstream(2)
    eject(up, "orders-2")  # 1 of 2 healthy = 50 %: not below 50 %
    assert picks(up) == {"orders-1"}
    assert not up.panic.in_panic and not [e for e in events.since() if e["kind"].startswith("panic")]


def test_below_the_threshold_every_endpoint_is_balanced_over_and_the_change_is_an_event():
    up, clock, events = upstream(4, max_ejection_percent=100)
    eject(up, "orders-2")
    eject(up, "orders-3")
    assert picks(up) == {"orders-1", "orders-4"}  # 2 of 4 = 50 %: no panic yet
    eject(up, "orders-4")  # 1 of 4 = 25 % < 50 %
    assert picks(up) == {"orders-1", "orders-2", "orders-3", "orders-4"}
    entered = [e for e in events.since() if e["kind"] == "panic-entered"]
    assert len(entered) == 1 and "1 of 4 orders endpoints healthy (25%)" in entered[0]["cause"]
    assert up.panic.state(50.0)["in_panic"] is True
    clock.advance(30.0)  # the ejections end: out of panic
    assert picks(up) == {"orders-1", "orders-2", "orders-3", "orders-4"}
    assert [e["kind"] for e in events.since() if e["kind"].startswith("panic")] == ["panic-entered", "panic-exited"]
    assert not up.panic.in_panic


def test_a_retry_whose_healthy_endpoints_all_failed_goes_to_an_ejected_one():
    """The issue's scenario: orders-2 ejected (and recovered), orders-1 then fails."""
    up, _, _ = upstream(2)
    eject(up, "orders-2")
    assert up.pick(set()).id == "orders-1"  # first attempt: the healthy one
    assert up.pick({"orders-1"}).id == "orders-2"  # its retry: the ejected one
    assert up.panic.request_picks == 1 and not up.panic.in_panic


def test_an_open_instance_breaker_counts_as_unhealthy():
    up, clock, _ = upstream(2)
    eject(up, "orders-2")
    breaker = up.instance_breaker("orders-1")
    for _ in range(up.policy.breaker.consecutive_failures):
        breaker.on_failure(0.01)
    assert picks(up) == {"orders-1", "orders-2"}  # 0 of 2 healthy: panic
    assert up.panic.in_panic


def test_threshold_0_turns_panic_off_the_control_arm():
    up, _, events = upstream(2, threshold=0)
    eject(up, "orders-2")
    assert up.pick({"orders-1"}).id == "orders-1"  # the retry goes back to the failing one
    breaker = up.instance_breaker("orders-1")
    for _ in range(up.policy.breaker.consecutive_failures):
        breaker.on_failure(0.01)
    assert up.pick(set()) is None  # nothing left: the outage
    assert not [e for e in events.since() if e["kind"].startswith("panic")]


def test_with_nothing_unhealthy_the_candidates_are_returned_as_they_are():
    router = PanicRouter("x")
    ids = ["a", "b"]
    assert router.candidates(ids, ids, {"a", "b"}, 50.0) is ids
    assert router.upstream_picks == router.request_picks == 0


@pytest.mark.parametrize("value", [-1, 101])
def test_a_bad_threshold_is_refused_naming_the_field(value):
    with pytest.raises(ConfigError, match="outlier.panic_threshold_percent"):
        OutlierConfig(panic_threshold_percent=value)


def test_the_threshold_is_a_policy_setting_from_the_cli_form():
    policy = Policy().with_setting("outlier.panic_threshold_percent", "0")
    assert policy.outlier.panic_threshold_percent == 0
    assert Policy().to_dict()["outlier"]["panic_threshold_percent"] == 50.0
