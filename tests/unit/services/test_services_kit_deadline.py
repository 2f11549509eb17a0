"""X-Gatemesh-Deadline-Ms as an app reads it and passes it on, on a fake clock."""

from __future__ import annotations

from services.kit.deadline import DEADLINE_HEADER, Deadline


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_no_or_malformed_header_means_no_deadline():
    clock = FakeClock()
    for headers in (
        {},
        {DEADLINE_HEADER: "soon"},
        {DEADLINE_HEADER: "-5"},
        {DEADLINE_HEADER: "nan"},
        {DEADLINE_HEADER: "inf"},
    ):
        assert Deadline.from_headers(headers, clock) is None, headers


def test_remaining_time_shrinks_and_is_passed_on_in_whole_ms():
    clock = FakeClock()
    deadline = Deadline.from_headers({DEADLINE_HEADER: "1500"}, clock)
    assert deadline is not None and deadline.header_value() == "1500"
    clock.now_s += 0.4006
    assert deadline.header_value() == "1099"  # rounded down: never promise time we lack
    assert not deadline.expired()
    clock.now_s += 2
    assert deadline.remaining_s() == 0.0 and deadline.expired() and deadline.header_value() == "0"


def test_zero_means_already_expired():
    deadline = Deadline.from_headers({DEADLINE_HEADER: "0"}, FakeClock())
    assert deadline is not None and deadline.expired()
