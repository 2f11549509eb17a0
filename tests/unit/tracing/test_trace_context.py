"""W3C traceparent parsing: every malformed shape starts a new trace (None), never an error."""

from __future__ import annotations

import pytest

from gatemesh.tracing.context import (
    MAX_TRACESTATE,
    format_traceparent,
    parse_traceparent,
    usable_tracestate,
    with_header,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
GOOD = f"00-{TRACE}-{SPAN}-01".encode()


def test_a_valid_traceparent_is_parsed_with_its_sampled_flag():
    parent = parse_traceparent(GOOD)
    assert parent is not None
    assert (parent.trace_id, parent.span_id, parent.flags) == (int(TRACE, 16), int(SPAN, 16), 1)
    assert parent.sampled
    assert not parse_traceparent(GOOD[:-2] + b"00").sampled  # type: ignore[union-attr]


def test_surrounding_whitespace_is_allowed_as_in_any_header_value():
    assert parse_traceparent(b"  " + GOOD + b"\t") is not None


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"garbage",
        b"00-not-a-trace-01",
        GOOD[:-1],  # one character short
        GOOD.upper(),  # upper-case hex is invalid
        f"00-{'0' * 32}-{SPAN}-01".encode(),  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01".encode(),  # all-zero parent id
        f"ff-{TRACE}-{SPAN}-01".encode(),  # version ff is forbidden
        GOOD + b"-extra",  # version 00 has exactly four fields
        f"00-{TRACE}-{SPAN}-zz".encode(),  # flags not hex
        f"00_{TRACE}_{SPAN}_01".encode(),  # wrong separators
        f"0x-{TRACE}-{SPAN}-01".encode(),  # version not hex
        f"00-{TRACE[:-1]}g-{SPAN}-01".encode(),  # a non-hex digit in the trace id
        f"01-{TRACE}-{SPAN}-01x".encode(),  # a later version: extra fields need a '-'
    ],
    ids=lambda v: v.decode("latin-1")[:24] or "empty",
)
def test_a_malformed_traceparent_is_none_so_the_proxy_starts_a_new_trace(value):
    assert parse_traceparent(value) is None


def test_a_later_version_with_more_fields_is_accepted_as_the_spec_asks():
    assert parse_traceparent(f"01-{TRACE}-{SPAN}-01-future".encode()) is not None


def test_absent_is_none():
    assert parse_traceparent(None) is None


def test_format_round_trips_and_states_the_sampled_flag():
    assert format_traceparent(int(TRACE, 16), int(SPAN, 16), True) == GOOD
    assert format_traceparent(1, 2, False) == b"00-00000000000000000000000000000001-0000000000000002-00"
    assert parse_traceparent(format_traceparent(5, 6, True)) == (5, 6, 1)


def test_tracestate_is_passed_on_only_within_its_size_limit():
    assert usable_tracestate(b"congo=t61rcWkgMzE") == b"congo=t61rcWkgMzE"
    assert usable_tracestate(b"x" * (MAX_TRACESTATE + 1)) is None
    assert usable_tracestate(b"") is None and usable_tracestate(None) is None


def test_with_header_replaces_every_copy_by_one():
    headers = [(b"traceparent", b"a"), (b"host", b"h"), (b"traceparent", b"b")]
    assert with_header(headers, b"traceparent", b"c") == [(b"traceparent", b"c"), (b"host", b"h")]
    assert with_header([(b"host", b"h")], b"traceparent", b"c") == [(b"host", b"h"), (b"traceparent", b"c")]
