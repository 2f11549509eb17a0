"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header a
request arrives with, parsed strictly, and the one each attempt leaves with.

    traceparent: 00-<trace-id: 32 hex>-<parent-id: 16 hex>-<flags: 2 hex>

A header that breaks the grammar (wrong length, upper-case or non-hex digits, an all-zero
id, version ff, a version-00 header with extra fields) is not the caller's failure: the
proxy starts a new trace, as the spec asks, and counts it (`Malformed`). `tracestate` is
passed on only beside a valid `traceparent` and within the spec's 512 characters.
"""

from __future__ import annotations

from typing import NamedTuple

TRACEPARENT = b"traceparent"
TRACESTATE = b"tracestate"
MAX_TRACESTATE = 512  # bytes: the spec lets a hop drop a longer tracestate
_HEX = frozenset(b"0123456789abcdef")
SAMPLED = 0x01


class Parent(NamedTuple):
    trace_id: int
    span_id: int
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)


def _hex(field: bytes, size: int) -> int | None:
    if len(field) != size or not _HEX.issuperset(field):
        return None
    return int(field, 16)


def parse_traceparent(value: bytes | None) -> Parent | None:
    """The caller's span, or None when `value` is absent or malformed (then a new trace)."""
    if value is None:
        return None
    value = value.strip(b" \t")
    if len(value) < 55 or value[2:3] != b"-" or value[35:36] != b"-" or value[52:53] != b"-":
        return None
    version = _hex(value[:2], 2)
    if version is None or version == 0xFF:
        return None
    # Version 00 is exactly 55 characters; a later version may append fields after a '-'.
    if len(value) > 55 and (version == 0 or value[55:56] != b"-"):
        return None
    trace_id, span_id, flags = _hex(value[3:35], 32), _hex(value[36:52], 16), _hex(value[53:55], 2)
    if not trace_id or not span_id or flags is None:  # None, or the invalid all-zero id
        return None
    return Parent(trace_id, span_id, flags)


def format_traceparent(trace_id: int, span_id: int, sampled: bool) -> bytes:
    """The header value a hop sends for its own span (always version 00)."""
    return b"00-%032x-%016x-%s" % (trace_id, span_id, b"01" if sampled else b"00")


def usable_tracestate(value: bytes | None) -> bytes | None:
    """`tracestate` as it may travel on: None when absent, empty or over the size limit."""
    if not value or len(value) > MAX_TRACESTATE:
        return None
    return value


def with_header(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` with every `name` field replaced by one carrying `value` (in place)."""
    for i, (n, _) in enumerate(headers):
        if n == name:
            headers[i] = (name, value)
            # A second copy would make the header ambiguous downstream.
            headers[i + 1 :] = [(n2, v2) for n2, v2 in headers[i + 1 :] if n2 != name]
            return headers
    headers.append((name, value))
    return headers
