"""HTTP/1.1 messages as the proxies see them: raw bytes, lower-cased header names.

Header names are lower-cased once, when parsed, so every later lookup is a plain
byte comparison; HTTP/1.1 names are case-insensitive, so forwarding them lower-cased
is correct (HTTP/2 even requires it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from http import HTTPStatus

Headers = list[tuple[bytes, bytes]]

# RFC 9110 §7.6.1: never forwarded by a proxy, plus whatever `Connection` names.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
# Framing headers the proxy recomputes for the body it actually sends.
FRAMING = HOP_BY_HOP | {b"content-length"}

REASON_PHRASES = {s.value: s.phrase.encode() for s in HTTPStatus}
_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, phrase) for code, phrase in REASON_PHRASES.items()}
# The same without the CRLF: a head is written as one CRLF-join of its lines.
STATUS_TEXT = {code: line[:-2] for code, line in _STATUS_LINES.items()}
# (name, value) → b"name: value" in C, for `map`: a head's lines are joined without a
# Python-level step per header (bytes `+` costs two buffer exports and a copy each time;
# a gateway hop did ~40 of them per request, ~6% of its instructions).
PAIR = b": ".join
# b"%d" % n for the small numbers every request writes (an attempt number, a short body's
# Content-Length): a list index instead of a bytes format (~900 instructions each).
DECIMAL = [b"%d" % n for n in range(1024)]
LENGTH_LINES = [b"content-length: %d" % n for n in range(1024)]


def status_line(status: int) -> bytes:
    """b"HTTP/1.1 200 OK\\r\\n" (cached for every registered status)."""
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d Unknown\r\n" % status


def header(headers: Headers, name: bytes) -> bytes | None:
    """First value of `name` (lower-case) or None."""
    for n, v in headers:
        if n == name:
            return v
    return None


_NO_OPTIONS: frozenset[bytes] = frozenset()
_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close", b"Keep-Alive", b"Close"})


def connection_options(value: bytes) -> frozenset[bytes]:
    """The header names a `Connection` header lists (RFC 9110 §7.6.1), lower-cased.
    The everyday values name no header that is not hop-by-hop already."""
    if value in _PLAIN_CONNECTION:
        return _NO_OPTIONS
    return frozenset(t.strip().lower() for t in value.split(b","))


def strip_hop_by_hop(headers: Headers) -> Headers:
    """Headers without hop-by-hop and framing ones (and those `Connection` lists)."""
    out = []
    listed: frozenset[bytes] | None = None
    for n, v in headers:
        if n in FRAMING:
            if n == b"connection":
                listed = connection_options(v) if listed is None else listed | connection_options(v)
            continue
        out.append((n, v))
    if listed:
        return [(n, v) for n, v in out if n not in listed]
    return out


class Request:
    """A parsed request whose body has been read (bodies are buffered so a retry can replay them)."""

    # `trace` is set by a tracing proxy (gatemesh.tracing), `identity` (the peer's SPIFFE id)
    # on a request that came over mTLS; both are None otherwise. Assigned here, not left
    # unset: `getattr(req, "identity", None)` on an unset slot raises and catches an
    # AttributeError inside, ~3k instructions on every sidecar-inbound request (callgrind).
    __slots__ = ("method", "target", "headers", "body", "keep_alive", "peer", "path", "trace", "identity")
    trace: object | None
    identity: str | None

    def __init__(
        self, method: bytes, target: bytes, headers: Headers, body: bytes, keep_alive: bool = True, peer: str = ""
    ):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.peer = peer
        self.trace = self.identity = None
        # The target without its query string: read two or three times per request (the
        # admin check, the route), so made once here rather than by a property each time.
        q = target.find(b"?")
        self.path = target if q < 0 else target[:q]

    @property
    def query(self) -> bytes:
        q = self.target.find(b"?")
        return b"" if q < 0 else self.target[q + 1 :]

    def header(self, name: bytes) -> bytes | None:
        return header(self.headers, name)


class Response:
    """What a handler returns: a whole body, or a stream of chunks.

    `content_length` may be set with a stream when the length is known up front
    (an upstream that sent Content-Length); otherwise a stream is sent chunked. On an
    answer without a body (to HEAD, or a 304) it is the length the upstream declared,
    which the server passes on; with a whole body the server counts the body instead.
    """

    __slots__ = ("status", "headers", "body", "stream", "content_length")

    def __init__(
        self,
        status: int,
        headers: Headers | None = None,
        body: bytes = b"",
        stream: AsyncIterator[bytes] | None = None,
        content_length: int | None = None,
    ):
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body
        self.stream = stream
        self.content_length = content_length


def json_response(status: int, payload: object, headers: Iterable[tuple[bytes, bytes]] = ()) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, [(b"content-type", b"application/json"), *headers], body)


def text_response(status: int, text: str, content_type: bytes = b"text/plain; charset=utf-8") -> Response:
    return Response(status, [(b"content-type", content_type)], text.encode())


def status_text(status: int) -> bytes:
    """b"HTTP/1.1 200 OK" (no CRLF; cached for every registered status)."""
    text = STATUS_TEXT.get(status)
    return text if text is not None else b"HTTP/1.1 %d Unknown" % status


def response_head(status: int, headers: Headers) -> bytes:
    """The status line and header block, without the final blank line."""
    return b"\r\n".join([status_text(status), *map(PAIR, headers), b""])


def request_head(method: bytes, target: bytes, headers: Headers) -> bytes:
    """The request line and header block, without the final blank line."""
    return b"\r\n".join([b" ".join((method, target, b"HTTP/1.1")), *map(PAIR, headers), b""])


def request_bytes(method: bytes, target: bytes, headers: Headers, body: bytes, framed: bool) -> bytes:
    """A whole request in one buffer; `framed`: with a Content-Length (a body, or a method
    that is expected to carry one)."""
    line = b" ".join((method, target, b"HTTP/1.1"))
    if framed:
        n = len(body)
        length = LENGTH_LINES[n] if n < 1024 else b"content-length: %d" % n
        return b"\r\n".join([line, *map(PAIR, headers), length, b"", body])
    return b"\r\n".join([line, *map(PAIR, headers), b"", b""])


def body_allowed(method: bytes, status: int) -> bool:
    """RFC 9110: HEAD answers, 1xx, 204 and 304 carry no body."""
    return method != b"HEAD" and status >= 200 and status not in (204, 304)
