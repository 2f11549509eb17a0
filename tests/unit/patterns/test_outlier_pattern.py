"""gatemesh.patterns.outlier: ejection after consecutive errors, its growth, cap and panic mode."""

import pytest

from gatemesh.clock import FakeClock
from gatemesh.patterns.outlier import OutlierConfig, OutlierDetector, OutlierEvent

EPS = ["a", "b", "c"]


def make(**kwargs):
    clock = FakeClock()
    events: list[OutlierEvent] = []
    return OutlierDetector(OutlierConfig(**kwargs), clock, events.append), clock, events


def fail(detector, endpoint, times, total=3):
    for _ in range(times):
        detector.on_result(endpoint, False, total)


def test_endpoint_is_ejected_after_k_consecutive_errors():
    od, clock, events = make(consecutive_errors=3, base_ejection_s=30)
    fail(od, "a", 2)
    assert not od.is_ejected("a")
    fail(od, "a", 1)
    assert od.is_ejected("a")
    assert od.healthy(EPS) == ["b", "c"]
    (ev,) = events
    assert (ev.kind, ev.endpoint, ev.ejection_s, ev.at) == ("ejected", "a", 30.0, 0.0)
    assert "failed 3 times in a row" in ev.cause and ev.cause.endswith(".")


def test_a_success_resets_the_error_streak():
    od, _, events = make(consecutive_errors=3)
    for _ in range(10):
        fail(od, "a", 2)
        od.on_result("a", True, 3)
    assert events == [] and not od.is_ejected("a")


def test_ejected_endpoint_returns_when_its_time_is_up():
    od, clock, events = make(consecutive_errors=1, base_ejection_s=30)
    fail(od, "a", 1)
    clock.advance(29.9)
    assert od.is_ejected("a")
    clock.advance(0.1)
    assert not od.is_ejected("a")
    assert events[-1].kind == "returned" and events[-1].endpoint == "a" and events[-1].at == 30.0
    assert od.healthy(EPS) == EPS


def test_ejection_time_grows_with_each_ejection_up_to_the_max():
    od, clock, events = make(consecutive_errors=1, base_ejection_s=30, max_ejection_s=100)
    durations = []
    for _ in range(5):
        fail(od, "a", 1)
        durations.append(events[-1].ejection_s)
        clock.advance(events[-1].ejection_s)
        assert not od.is_ejected("a")
    assert durations == [30, 60, 90, 100, 100]


def test_time_in_service_forgives_past_ejections():
    od, clock, events = make(consecutive_errors=1, base_ejection_s=10, max_ejection_s=300)
    fail(od, "a", 1)  # 10 s
    clock.advance(10)
    od.is_ejected("a")
    fail(od, "a", 1)  # 20 s
    clock.advance(20)
    od.is_ejected("a")
    clock.advance(25)  # 25 s healthy forgives two ejections
    fail(od, "a", 1)
    assert events[-1].ejection_s == 10


def test_errors_reported_while_ejected_do_not_extend_the_ejection():
    od, clock, events = make(consecutive_errors=1, base_ejection_s=30)
    fail(od, "a", 5)
    assert [e.kind for e in events] == ["ejected"]


def test_cap_with_three_endpoints_ejects_one_and_refuses_the_second_with_a_reason():
    od, _, events = make(consecutive_errors=2, max_ejection_percent=10)
    fail(od, "a", 2)
    fail(od, "b", 2)
    assert od.is_ejected("a") and not od.is_ejected("b")
    capped = events[-1]
    assert capped.kind == "ejection-capped" and capped.endpoint == "b" and capped.ejection_s is None
    assert "1 of 3 endpoints are already ejected" in capped.cause
    assert "max_ejection_percent=10" in capped.cause
    assert od.healthy(EPS) == ["b", "c"]


def test_the_last_endpoint_is_never_ejected_even_at_100_percent():
    od, _, events = make(consecutive_errors=1, max_ejection_percent=100)
    fail(od, "a", 1)
    fail(od, "b", 1)
    fail(od, "c", 1)
    assert [e.kind for e in events] == ["ejected", "ejected", "ejection-capped"]
    assert od.healthy(EPS) == ["c"]


def test_a_capped_endpoint_is_ejected_once_there_is_room():
    od, clock, events = make(consecutive_errors=1, base_ejection_s=5, max_ejection_percent=10)
    fail(od, "a", 1)
    fail(od, "b", 1)
    assert events[-1].kind == "ejection-capped"
    clock.advance(5)  # a's ejection is over
    fail(od, "b", 1)
    assert od.is_ejected("b") and not od.is_ejected("a")


def test_single_endpoint_service_never_ejects():
    od, _, events = make(consecutive_errors=1)
    fail(od, "solo", 3, total=1)
    assert not od.is_ejected("solo")
    assert all(e.kind == "ejection-capped" for e in events)


def test_panic_mode_returns_every_endpoint_when_all_are_ejected():
    od, _, _ = make(consecutive_errors=1, max_ejection_percent=100)
    fail(od, "a", 1, total=2)
    # The detector knows "a" and "b"; the caller asks about a list where only "a" is left.
    assert od.healthy(["a"]) == ["a"]
    assert od.panics == 1
    assert od.healthy([]) == []


def test_healthy_returns_the_same_list_when_nothing_is_ejected():
    od, _, _ = make()
    endpoints = ["a", "b"]
    assert od.healthy(endpoints) is endpoints
    assert od.healthy(("a", "b")) == ["a", "b"]


def test_disabled_detection_ignores_errors_and_disabling_returns_ejected_endpoints():
    od, _, events = make(consecutive_errors=1)
    fail(od, "a", 1)
    od.reconfigure(OutlierConfig(enabled=False, consecutive_errors=1))
    assert not od.is_ejected("a")
    assert events[-1].kind == "returned" and "turned off" in events[-1].cause
    fail(od, "b", 3)
    assert not od.is_ejected("b")


def test_ejected_reports_time_left():
    od, clock, _ = make(consecutive_errors=1, base_ejection_s=30)
    fail(od, "a", 1)
    clock.advance(10)
    assert od.ejected() == {"a": pytest.approx(20)}


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"consecutive_errors": 0}, "outlier.consecutive_errors"),
        ({"base_ejection_s": 0}, "outlier.base_ejection_s"),
        ({"base_ejection_s": 60, "max_ejection_s": 30}, "outlier.max_ejection_s"),
        ({"max_ejection_percent": 101}, "outlier.max_ejection_percent"),
    ],
)
def test_outlier_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        OutlierConfig(**kwargs)
