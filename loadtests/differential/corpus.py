"""The differential corpus: raw requests and raw upstream answers, each with what it probes.

A `Case` is either a client's raw bytes (`send`, maybe in slow pieces) or a normal GET
whose upstream answers with raw bytes (`answer`). `ambiguous` marks a message two HTTP
implementations may frame differently (the stuff of request smuggling): a proxy must
refuse it, never forward it. `{host}` in a request is the Host the hop routes by.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    send: bytes = b""  # the client's bytes (ignored when `answer` is set)
    answer: bytes | None = None  # the upstream's raw answer to GET /diff/<name>
    ambiguous: bool = False  # must never be forwarded
    pieces_s: float = 0.0  # > 0: send `send` one piece at a time, this far apart
    pieces: int = 1


def req(line: str, *headers: str, body: bytes = b"", host: bool = True) -> bytes:
    lines = [line] + (["Host: {host}"] if host else []) + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


P = "/diff/echo"
CASES: tuple[Case, ...] = (
    # --- smuggling: two framings in one message ------------------------------------------
    Case(
        "cl-te",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Content-Length: 6", "Transfer-Encoding: chunked", body=b"0\r\n\r\nX"),
        ambiguous=True,
    ),
    Case(
        "te-cl",
        "smuggling",
        req(
            f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 3", body=b"8\r\nSMUGGLED\r\n0\r\n\r\n"
        ),
        ambiguous=True,
    ),
    Case(
        "te-identity-chunked",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: identity, chunked", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "te-chunked-identity",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "te-two-headers",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked", "Transfer-Encoding: identity", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "te-space-colon",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding : chunked", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "te-vtab",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding:\x0bchunked", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "te-obs-fold",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding:", " chunked", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "te-http10",
        "smuggling",
        req(f"POST {P} HTTP/1.0", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "cl-two-different",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Content-Length: 3", "Content-Length: 5", body=b"abcde"),
        ambiguous=True,
    ),
    Case("cl-list", "smuggling", req(f"POST {P} HTTP/1.1", "Content-Length: 3, 5", body=b"abcde"), ambiguous=True),
    Case("cl-plus", "smuggling", req(f"POST {P} HTTP/1.1", "Content-Length: +3", body=b"abc"), ambiguous=True),
    Case("cl-hex", "smuggling", req(f"POST {P} HTTP/1.1", "Content-Length: 0x3", body=b"abc"), ambiguous=True),
    Case("bare-lf", "smuggling", f"GET {P} HTTP/1.1\nHost: {{host}}\nX: y\n\n".encode(), ambiguous=True),
    Case("nul-in-header", "smuggling", req(f"GET {P} HTTP/1.1", "X-A: a\x00b"), ambiguous=True),
    Case(
        "chunk-size-overflow",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked", body=b"10000000000000001\r\nX\r\n0\r\n\r\n"),
        ambiguous=True,
    ),
    Case(
        "chunk-lf-only",
        "smuggling",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked", body=b"3\nabc\n0\n\n"),
        ambiguous=True,
    ),
    # --- framing edges ----------------------------------------------------------------
    Case("cl-two-same", "framing", req(f"POST {P} HTTP/1.1", "Content-Length: 3", "Content-Length: 3", body=b"abc")),
    Case("get-with-body", "framing", req(f"GET {P} HTTP/1.1", "Content-Length: 5", body=b"hello")),
    Case("bytes-after-get", "framing", req(f"GET {P} HTTP/1.1") + b"hello"),
    Case("pipelined-two", "framing", req(f"GET {P}?n=1 HTTP/1.1") + req(f"GET {P}?n=2 HTTP/1.1")),
    Case(
        "te-uppercase",
        "framing",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: CHUNKED", body=b"3\r\nabc\r\n0\r\n\r\n"),
    ),
    Case(
        "chunk-ext",
        "framing",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked", body=b"3;name=val\r\nabc\r\n0\r\n\r\n"),
    ),
    Case(
        "chunk-trailer",
        "framing",
        req(f"POST {P} HTTP/1.1", "Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"),
    ),
    # --- limits -------------------------------------------------------------------------
    Case("header-line-10k", "limits", req(f"GET {P} HTTP/1.1", "X-Big: " + "b" * 10_240)),
    Case("head-100k", "limits", req(f"GET {P} HTTP/1.1", *(f"X-H{i}: " + "h" * 1000 for i in range(100)))),
    Case("uri-16k", "limits", req(f"GET {P}?" + "q" * 16_384 + " HTTP/1.1")),
    Case(
        "unterminated-header-1m",
        "limits",
        f"GET {P} HTTP/1.1\r\nHost: {{host}}\r\nX-Flood: ".encode() + b"a" * (1 << 20),
    ),
    Case("body-2m-declared", "limits", req(f"POST {P} HTTP/1.1", f"Content-Length: {2 << 20}") + b"x" * 1000),
    # --- interim answers ----------------------------------------------------------------
    Case("expect-100", "interim", req(f"POST {P} HTTP/1.1", "Expect: 100-continue", "Content-Length: 2", body=b"ok")),
    Case(
        "upstream-100-then-200",
        "interim",
        answer=b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
    Case(
        "upstream-103-then-200",
        "interim",
        answer=b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
    Case(
        "upstream-101-unasked",
        "interim",
        answer=b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x00",
    ),
    # --- Host rules ---------------------------------------------------------------------
    Case("no-host-11", "host", req(f"GET {P} HTTP/1.1", host=False)),
    Case("two-hosts", "host", req(f"GET {P} HTTP/1.1", "Host: other"), ambiguous=True),
    Case("absolute-form", "host", req(f"GET http://{{host}}{P} HTTP/1.1")),
    Case("absolute-mismatch", "host", req(f"GET http://elsewhere{P} HTTP/1.1"), ambiguous=True),
    Case("absolute-userinfo", "host", req(f"GET http://user@{{host}}{P} HTTP/1.1"), ambiguous=True),
    Case("http10-no-host", "host", req(f"GET {P} HTTP/1.0", host=False)),
    Case("bad-host-chars", "host", req(f"GET {P} HTTP/1.1", "Host: a b/c", host=False), ambiguous=True),
    # --- versions and methods -----------------------------------------------------------
    Case("http20-line", "version", req(f"GET {P} HTTP/2.0")),
    Case("http12-line", "version", req(f"GET {P} HTTP/1.2")),
    Case("http09", "version", f"GET {P}\r\n".encode()),
    Case("connect", "version", req("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443", host=False)),
    Case("upgrade-websocket", "version", req(f"GET {P} HTTP/1.1", "Connection: upgrade", "Upgrade: websocket")),
    Case(
        "upgrade-h2c",
        "version",
        req(
            f"GET {P} HTTP/1.1",
            "Connection: Upgrade, HTTP2-Settings",
            "Upgrade: h2c",
            "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
        ),
    ),
    Case("lowercase-method", "version", req(f"get {P} HTTP/1.1")),
    # --- upstream answers ---------------------------------------------------------------
    Case("close-delimited", "answers", answer=b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-the-close"),
    Case("malformed-status", "answers", answer=b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok"),
    Case(
        "upstream-head-1m",
        "answers",
        answer=b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok",
    ),
    Case(
        "upstream-cl-te",
        "answers",
        answer=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ),
    Case("upstream-two-cl", "answers", answer=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk"),
    Case("upstream-http09", "answers", answer=b"just bytes, no status line"),
    # --- slow senders -------------------------------------------------------------------
    Case(
        "slowloris-head",
        "slow",
        f"GET {P} HTTP/1.1\r\nHost: {{host}}\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\n".encode(),
        pieces_s=1.0,
        pieces=12,
    ),
    Case("slow-body", "slow", req(f"POST {P} HTTP/1.1", "Content-Length: 100") + b"0123456789", pieces_s=0.0),
    Case("idle-no-bytes", "slow", b""),
    Case("half-request-line", "slow", b"GET /diff/ec"),
)

assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
