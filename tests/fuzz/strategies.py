"""Generators of HTTP/1.1 messages: valid ones (to check they survive a hop unchanged),
and mutations of them (to check nothing ambiguous is ever accepted)."""

from __future__ import annotations

from hypothesis import strategies as st

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=40)
PATH = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~/%", max_size=40).map(lambda p: "/" + p)
QUERY = st.one_of(st.just(""), st.text(alphabet="abc=&123", max_size=20).map(lambda q: "?" + q))
RESERVED = {
    "host",
    "content-length",
    "transfer-encoding",
    "expect",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
}
HEADER = st.tuples(TOKEN.filter(lambda n: n not in RESERVED), VALUE.map(str.strip))


@st.composite
def valid_request(draw: st.DrawFn) -> tuple[bytes, dict]:
    """A valid request in wire form, and what the server must hand the handler."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
    target = draw(PATH) + draw(QUERY)
    headers = draw(st.lists(HEADER, max_size=6))
    body = draw(st.binary(max_size=300)) if method in ("POST", "PUT", "PATCH") else b""
    chunked = bool(body) and draw(st.booleans())
    lines = [f"{method} {target} HTTP/1.1", "Host: svc"] + [f"{n}: {v}" for n, v in headers]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 64), min_size=1, max_size=8))
        parts, rest = [], body
        for s in sizes:
            if not rest:
                break
            piece, rest = rest[:s], rest[s:]
            parts.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        if rest:
            parts.append(b"%x\r\n%s\r\n" % (len(rest), rest))
        wire_body = b"".join(parts) + b"0\r\n\r\n"
    elif body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
        wire_body = body
    else:
        wire_body = b""
    wire = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + wire_body
    want = {
        "method": method.encode(),
        "target": target.encode(),
        "body": body,
        "headers": [(b"host", b"svc")] + [(n.encode(), v.encode()) for n, v in headers],
    }
    return wire, want


@st.composite
def splits(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """`data` cut at arbitrary points (as TCP may deliver it)."""
    if not data:
        return [data]
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=8))))
    out, last = [], 0
    for c in cuts:
        out.append(data[last:c])
        last = c
    out.append(data[last:])
    return [c for c in out if c]


# Pieces an attacker splices into a head: framing, Host and version edges.
HOSTILE = st.sampled_from(
    [
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: identity, chunked\r\n",
        b"Transfer-Encoding: chunked, identity\r\n",
        b"Transfer-Encoding:\tchunked\r\n",
        b"Transfer-Encoding : chunked\r\n",
        b"transfer-encoding: CHUNKED\r\n",
        b"Content-Length: 5\r\n",
        b"Content-Length: 0\r\n",
        b"Content-Length: -1\r\n",
        b"Content-Length: 5, 5\r\n",
        b"Content-Length:  5 \r\n",
        b"Content-Length: 0x5\r\n",
        b"Host: a\r\n",
        b"Host: b\r\n",
        b"Host:\r\n",
        b"Host: a b\r\n",
        b"Expect: 100-continue\r\n",
        b"Connection: upgrade\r\nUpgrade: h2c\r\n",
        b" folded\r\n",
        b"X: a\nY: b\r\n",
        b"X: \x00\r\n",
        b"\r\n",
        b"0\r\n\r\n",
        b"5\r\nhello\r\n",
        b"GET / HTTP/1.1\r\n",
        b"X-Long: " + b"l" * 600 + b"\r\n",
    ]
)
LINE = st.sampled_from(
    [
        b"GET / HTTP/1.1\r\n",
        b"POST / HTTP/1.1\r\n",
        b"GET / HTTP/1.0\r\n",
        b"GET / HTTP/2.0\r\n",
        b"GET /\r\n",
        b"GET http://a/x HTTP/1.1\r\n",
        b"GET http://a@b/x HTTP/1.1\r\n",
        b"CONNECT a:443 HTTP/1.1\r\n",
        b"GET  / HTTP/1.1\r\n",
        b"GET / HTTP/1.1 \r\n",
        b"get / HTTP/1.1\r\n",
        b"GET /" + b"u" * 600 + b" HTTP/1.1\r\n",
    ]
)


@st.composite
def hostile_request(draw: st.DrawFn) -> bytes:
    line = draw(LINE)
    pieces = draw(st.lists(HOSTILE, max_size=6))
    tail = draw(
        st.sampled_from(
            [b"\r\n", b"\r\n0\r\n\r\n", b"\r\nhello", b"\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", b""]
        )
    )
    noise = draw(st.binary(max_size=20)) if draw(st.booleans()) else b""
    return line + b"".join(pieces) + tail + noise


@st.composite
def upstream_answer(draw: st.DrawFn) -> tuple[list[bytes], bytes, int, str]:
    """An upstream's answer (interim heads first, maybe), its body and status, and its framing."""
    interims = draw(
        st.lists(
            st.sampled_from(
                [
                    b"HTTP/1.1 100 Continue\r\n\r\n",
                    b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
                    b"HTTP/1.1 102 Processing\r\n\r\n",
                ]
            ),
            max_size=3,
        )
    )
    status = draw(st.sampled_from([200, 201, 404, 500, 503]))
    body = draw(st.binary(max_size=400))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    head = [f"HTTP/1.1 {status} X", "Content-Type: application/octet-stream"]
    if framing == "length":
        head.append(f"Content-Length: {len(body)}")
        wire_body = body
    elif framing == "chunked":
        head.append("Transfer-Encoding: chunked")
        wire_body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    else:
        head.append("Connection: close")
        wire_body = body
    wire = b"".join(interims) + ("\r\n".join(head) + "\r\n\r\n").encode() + wire_body
    return [wire], body, status, framing
