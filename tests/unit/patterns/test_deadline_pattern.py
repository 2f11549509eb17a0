"""gatemesh.patterns.deadline: timeouts, the deadline header, and how they combine."""

import pytest

from gatemesh.clock import FakeClock
from gatemesh.patterns.deadline import (
    DEADLINE_HEADER,
    Deadline,
    TimeoutConfig,
    attempt_timeout_s,
    for_attempt,
    parse_deadline_ms,
)


def test_header_name_is_the_contract_header_lower_cased():
    assert DEADLINE_HEADER == "x-gatemesh-deadline-ms"


def test_deadline_after_counts_down_and_never_goes_negative():
    clock = FakeClock()
    d = Deadline.after(clock, 2.0)
    clock.advance(0.5)
    assert d.remaining_s() == pytest.approx(1.5)
    assert not d.expired
    clock.advance(5)
    assert d.remaining_s() == 0.0
    assert d.expired


def test_deadline_from_header_is_taken_when_shorter_than_the_cap():
    clock = FakeClock()
    d = Deadline.from_header(clock, b"800", cap_s=5.0)
    assert d.remaining_s() == pytest.approx(0.8)


def test_deadline_from_header_is_cut_to_the_cap():
    clock = FakeClock()
    d = Deadline.from_header(clock, "60000", cap_s=5.0)
    assert d.remaining_s() == pytest.approx(5.0)


def test_no_header_gives_the_cap_alone_or_none_without_a_cap():
    clock = FakeClock()
    assert Deadline.from_header(clock, None, cap_s=None) is None
    assert Deadline.from_header(clock, None, cap_s=3.0).remaining_s() == pytest.approx(3.0)


def test_header_without_a_cap_is_honoured_as_sent():
    assert Deadline.from_header(FakeClock(), b" 1500 ", cap_s=None).remaining_s() == pytest.approx(1.5)


@pytest.mark.parametrize("bad", [b"", b"abc", b"-5", b"1.5", b"12ms", "١٢٣", b"9" * 13])
def test_malformed_header_raises_a_sentence_naming_the_header(bad):
    with pytest.raises(ValueError, match="x-gatemesh-deadline-ms header must be a non-negative whole number"):
        Deadline.from_header(FakeClock(), bad, cap_s=5.0)


def test_zero_header_means_already_expired():
    d = Deadline.from_header(FakeClock(), b"0", cap_s=5.0)
    assert d.expired
    assert d.header_value() == b"0"


def test_header_value_propagates_remaining_whole_milliseconds():
    clock = FakeClock()
    d = Deadline.after(clock, 1.0)
    clock.advance(0.2504)
    assert d.header_value() == b"749"
    assert parse_deadline_ms(d.header_value()) == 749


def test_propagated_header_shrinks_hop_by_hop():
    clock = FakeClock()
    edge = Deadline.from_header(clock, None, cap_s=5.0)
    clock.advance(1.0)
    mesh = Deadline.from_header(clock, edge.header_value(), cap_s=10.0)
    assert mesh.remaining_s() == pytest.approx(4.0)


def test_attempt_timeout_is_the_smaller_of_timeout_and_deadline():
    clock = FakeClock()
    cfg = TimeoutConfig(attempt_timeout_s=1.0)
    assert attempt_timeout_s(cfg, None) == 1.0
    assert attempt_timeout_s(cfg, Deadline.after(clock, 3.0)) == 1.0
    assert attempt_timeout_s(cfg, Deadline.after(clock, 0.3)) == pytest.approx(0.3)


def test_disabled_timeouts_still_honour_a_callers_deadline():
    clock = FakeClock()
    off = TimeoutConfig(enabled=False)
    assert attempt_timeout_s(off, None) is None
    assert attempt_timeout_s(off, Deadline.after(clock, 2.0)) == pytest.approx(2.0)


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("left_s", [0.0, 0.3, 0.9999, 1.0, 3.0, -1.0])
def test_for_attempt_is_the_header_value_and_the_attempt_timeout_from_one_clock_read(enabled, left_s):
    clock = FakeClock()
    cfg = TimeoutConfig(enabled=enabled, attempt_timeout_s=1.0)
    d = Deadline(clock, clock.monotonic() + left_s)
    assert for_attempt(cfg, d) == (d.header_value(), attempt_timeout_s(cfg, d))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"attempt_timeout_s": 0}, "timeout.attempt_timeout_s"),
        ({"request_timeout_s": -1}, "timeout.request_timeout_s"),
        ({"request_timeout_s": float("nan")}, "timeout.request_timeout_s"),
    ],
)
def test_timeout_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        TimeoutConfig(**kwargs)
