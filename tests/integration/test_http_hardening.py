"""Issue 11's defects 2–5 and issue 12's idle pool, one regression test each, over real
sockets at the gateway and through two sidecars (and at a sidecar's inbound port where
the defect lives there).

The proxies run with short waits (GATEMESH_HTTP_* / GATEMESH_POOL_* in their environment)
so a timeout shows in about a second; the defaults are in docs/http.md.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from test_http11 import BIG_SIZE, Client, Hop, run_stack

pytestmark = [pytest.mark.integration]

SHORT = {
    "GATEMESH_HTTP_HEADER_TIMEOUT_S": "1",
    "GATEMESH_HTTP_BODY_IDLE_TIMEOUT_S": "1",
    "GATEMESH_HTTP_KEEPALIVE_TIMEOUT_S": "2",
    "GATEMESH_HTTP_MAX_CONNECTIONS": "200",
    "GATEMESH_POOL_IDLE_TIMEOUT_S": "1",
    "GATEMESH_POOL_BODY_IDLE_TIMEOUT_S": "1",
    "GATEMESH_POOL_MAX_IDLE_PER_UPSTREAM": "16",  # below the 30 concurrent requests of the idle-cap test
    "GATEMESH_INBOUND_TIMEOUT_S": "1.5",
}


@pytest.fixture(scope="module")
def hstack(port_base, port_bases, tmp_path_factory):
    with run_stack(port_bases, tmp_path_factory.mktemp("hardening"), SHORT) as s:
        yield s


@pytest.fixture(params=["gateway", "sidecars"])
def hop(request, hstack) -> Hop:
    return hstack["hops"][request.param]


def raw(hop: Hop, data: bytes, wait_s: float = 5.0) -> tuple[bytes, float, bool]:
    """Send `data`, read until the proxy closes (or `wait_s`): (bytes read, seconds, closed)."""
    s = socket.create_connection(("127.0.0.1", hop.port), timeout=wait_s)
    t0 = time.monotonic()
    out, closed = b"", False
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the proxy may answer and close before it has read everything
        while time.monotonic() - t0 < wait_s:
            try:
                piece = s.recv(65536)
            except TimeoutError:
                break
            except OSError:
                closed = True
                break
            if not piece:
                closed = True
                break
            out += piece
    finally:
        s.close()
    return out, time.monotonic() - t0, closed


def status_and_reason(answer: bytes) -> tuple[int, str | None]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    reason = next(
        (line.split(":", 1)[1].strip() for line in head[1:] if line.lower().startswith("x-gatemesh-reason:")), None
    )
    return int(head[0].split()[1]), reason


def events(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("gatemesh_http_events_total{"):
            out[line.split('event="', 1)[1].split('"', 1)[0]] = float(line.rsplit(" ", 1)[1])
    return out


# --- defect 2: limits, linear buffering ----------------------------------------------------
def test_an_unterminated_header_is_refused_at_the_limit_not_buffered(hop):
    head = f"GET {hop.prefix}/echo HTTP/1.1\r\nHost: {hop.host}\r\nX-Flood: ".encode()
    answer, took, closed = raw(hop, head + b"a" * (4 << 20))
    assert status_and_reason(answer) == (431, "headers-too-large")
    assert closed and took < 3.0


def test_an_unterminated_request_line_is_414(hop):
    answer, _, closed = raw(hop, b"GET /" + b"u" * (1 << 20))
    assert status_and_reason(answer) == (414, "uri-too-long") and closed


def test_a_complete_oversized_header_line_is_431(hop):
    answer, _, _ = raw(hop, hop.req("GET", "echo", [("X-Big", "b" * (9 << 10))]))
    assert status_and_reason(answer) == (431, "headers-too-large")


def test_an_oversized_upstream_head_is_502_with_its_reason(hop):
    answer, _, _ = raw(hop, hop.req("GET", "bighead"), wait_s=5)
    assert status_and_reason(answer) == (502, "upstream-head-too-large")


# --- defect 3: timeouts, the connection cap, abandoned streams -----------------------------
@pytest.mark.parametrize(
    "what,data",
    [
        ("nothing", b""),
        ("half a request line", b"GET /h11/ec"),
        ("half a head", b"GET /h11/echo HTTP/1.1\r\nHost: x\r\n"),
    ],
)
def test_a_slow_head_is_408_and_closed(hop, what, data):
    answer, took, closed = raw(hop, data, wait_s=6)
    assert status_and_reason(answer) == (408, "request-timeout"), what
    assert closed and 0.9 < took < 5.0, (what, took)


def test_a_stalled_request_body_is_408(hop):
    head = hop.req("POST", "echo", [("Content-Length", "100")]).replace(b"\r\n\r\n", b"\r\n\r\n", 1)
    answer, took, closed = raw(hop, head + b"0123456789", wait_s=6)
    assert status_and_reason(answer) == (408, "request-timeout")
    assert closed and took < 3.0


def test_an_idle_keep_alive_connection_is_closed(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "echo"))
        assert c.read_replies(1)[0].status == 200
        t0 = time.monotonic()
        c.read_to_eof(deadline_s=8)
        assert c.closed and 1.5 < time.monotonic() - t0 < 6.0
    finally:
        c.close()


def test_an_upstream_stalled_mid_body_is_cut_and_its_connection_closed(hop, hstack):
    c = hop.client()
    try:
        c.send(hop.req("GET", "stall"))
        t0 = time.monotonic()
        c.read_to_eof(deadline_s=8)
        assert c.closed and time.monotonic() - t0 < 4.0
        assert c.replies and c.replies[0].status == 200 and not c.replies[0].complete
    finally:
        c.close()


def test_abandoned_streams_release_their_upstream_connections(hop, hstack):
    origin = hstack["origin"]
    origin.close_gate()
    time.sleep(1.6)  # the pools' idle connections go (idle timeout 1 s)
    before = origin.open_conns
    clients = []
    try:
        for _ in range(20):
            c = hop.client()
            c.send(hop.req("GET", "big"))
            clients.append(c)
        for c in clients:
            c.read_until(lambda c=c: c.replies and len(c.replies[0].body) > 0, deadline_s=10)
        assert origin.open_conns >= before + 20
    finally:
        for c in clients:
            c.close()
    end = time.monotonic() + 3
    while origin.open_conns > before and time.monotonic() < end:
        time.sleep(0.05)
    origin.open_conns_after = origin.open_conns
    origin.open_gate()
    assert origin.open_conns_after <= before, f"{origin.open_conns_after - before} upstream connections leaked"
    assert BIG_SIZE > 0


def test_the_connection_cap_answers_503_too_many_connections(hstack):
    hop = hstack["hops"]["gateway"]
    held = []
    try:
        for _ in range(200):
            held.append(socket.create_connection(("127.0.0.1", hop.port), timeout=5))
        answer, _, closed = raw(hop, hop.req("GET", "echo"), wait_s=3)
        assert status_and_reason(answer) == (503, "too-many-connections") and closed
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    answer, _, _ = raw(hop, hop.req("GET", "echo", [("Connection", "close")]))
    assert status_and_reason(answer)[0] == 200


def test_a_sidecar_inbound_without_a_deadline_times_out(hstack):
    inbound = hstack["sidecar_inbound"]
    answer, took, _ = raw(inbound, inbound.req("GET", "silent", [("Connection", "close")]), wait_s=6)
    assert status_and_reason(answer) == (504, "timeout")
    assert 1.3 < took < 5.0


# --- defect 4: Host, versions, framing ----------------------------------------------------
@pytest.mark.parametrize(
    "name,data",
    [
        ("no Host in 1.1", b"GET /h11/echo HTTP/1.1\r\n\r\n"),
        ("two Hosts", b"GET /h11/echo HTTP/1.1\r\nHost: {h}\r\nHost: other\r\n\r\n"),
        ("absolute form, other Host", b"GET http://{h}/h11/echo HTTP/1.1\r\nHost: elsewhere\r\n\r\n"),
        ("malformed Host", b"GET /h11/echo HTTP/1.1\r\nHost: a b/c\r\n\r\n"),
    ],
)
def test_host_rules_refuse_with_400_bad_host(hop, name, data):
    answer, _, _ = raw(hop, data.replace(b"{h}", hop.host.encode()))
    assert status_and_reason(answer) == (400, "bad-host"), name


def test_an_absolute_form_target_is_forwarded_in_origin_form(hop):
    c = hop.client()
    try:
        c.send(f"GET http://{hop.host}{hop.prefix}/echo?x=1 HTTP/1.1\r\nHost: {hop.host}\r\n\r\n".encode())
        (r,) = c.read_replies(1)
    finally:
        c.close()
    assert r.status == 200
    seen = json.loads(bytes(r.body))
    assert seen["target"].startswith("/") and seen["target"].endswith("/echo?x=1")


def test_http10_without_host_goes_upstream_with_one(hstack):
    hop = hstack["hops"]["gateway"]  # a sidecar's outbound routes by Host, so it needs one
    answer, _, _ = raw(hop, b"GET /h11/echo HTTP/1.0\r\n\r\n")
    assert status_and_reason(answer)[0] == 200
    seen = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert [v for n, v in seen["headers"] if n == "host"] != []


@pytest.mark.parametrize(
    "name,data,expect",
    [
        ("HTTP/2.0 request line", b"GET /h11/echo HTTP/2.0\r\nHost: {h}\r\n\r\n", (505, "unsupported-version")),
        ("HTTP/0.9", b"GET /h11/echo\r\n", (505, "unsupported-version")),
        (
            "TE identity, chunked",
            b"POST /h11/echo HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
            (400, "bad-framing"),
        ),
        (
            "TE in HTTP/1.0",
            b"POST /h11/echo HTTP/1.0\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            (400, "bad-framing"),
        ),
        (
            "CL and TE",
            b"POST /h11/echo HTTP/1.1\r\nHost: {h}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            (400, "bad-request"),
        ),
        (
            "CONNECT",
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            (501, "connect-not-supported"),
        ),
        (
            "Upgrade",
            b"GET /h11/echo HTTP/1.1\r\nHost: {h}\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            (501, "upgrade-not-supported"),
        ),
    ],
)
def test_refused_heads_get_their_own_reason_and_are_not_forwarded(hop, name, data, expect):
    answer, took, closed = raw(hop, data.replace(b"{h}", hop.host.encode()), wait_s=3)
    assert status_and_reason(answer) == expect, name
    assert closed and took < 1.0, f"{name}: the connection was left open"


def test_bytes_without_framing_after_a_valid_request(hop):
    answer, _, closed = raw(hop, hop.req("GET", "echo") + b"hello")
    first, rest = answer.split(b"\r\n\r\n", 1)
    assert status_and_reason(first)[0] == 200  # the valid request is answered ...
    assert b"HTTP/1.1 400" in rest and closed  # ... then the garbage is refused and the connection closed


# --- defect 5: answers ---------------------------------------------------------------------
def test_a_close_delimited_answer_is_resent_with_a_proper_end(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "closedelim"))
        (r,) = c.read_replies(1)
    finally:
        c.close()
    assert r.complete and r.status == 200 and bytes(r.body) == b"until-the-close"


def test_a_malformed_status_line_is_upstream_protocol_error_and_not_retried(hop, hstack):
    def origin_hits(hop: Hop) -> int:
        return hstack["origin"].hits.get("badstatus", 0)

    before = origin_hits(hop)
    c = hop.client()
    try:
        c.send(hop.req("GET", "badstatus"))
        (r,) = c.read_replies(1)
    finally:
        c.close()
    assert (r.status, r.headers["x-gatemesh-reason"]) == (502, "upstream-protocol-error")
    # The hop that read the broken answer does not retry it: the origin saw one request per
    # attempt of the first hop (a caller sidecar may retry the 502 by its status policy).
    first_hop = r.headers.get("x-gatemesh-attempts", "gateway=1").split(",")[0].strip()
    assert origin_hits(hop) - before == int(first_hop.rsplit("=", 1)[1]), r.headers


# --- issue 12 item 4: idle upstream connections --------------------------------------------
def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_upstream_connections_are_closed_and_fds_come_back_down(hstack):
    hop, origin = hstack["hops"]["gateway"], hstack["origin"]
    gateway = next(p for p in hstack["procs"] if "gateway" in " ".join(p.args))
    time.sleep(1.6)
    fds_before, conns_before = _fds(gateway.pid), origin.open_conns
    clients = [Client(hop.port) for _ in range(30)]
    for c in clients:  # 30 concurrent slow requests: 30 upstream connections at once
        c.send(hop.req("GET", "echo?delay_ms=300"))
    for c in clients:
        assert c.read_replies(1)[0].status == 200
        c.close()
    assert _fds(gateway.pid) >= fds_before + 16  # up to the idle cap kept
    end = time.monotonic() + 4
    while (origin.open_conns > conns_before or _fds(gateway.pid) > fds_before) and time.monotonic() < end:
        time.sleep(0.1)
    assert _fds(gateway.pid) <= fds_before, "the gateway's idle upstream fds did not come back down"
    got = events(hop.port)
    assert got.get("upstream-idle-timeout-closed", 0) > 0 and got.get("upstream-idle-cap", 0) > 0, got


def test_every_refusal_is_counted_in_the_metrics(hstack):
    """Self-contained (xdist may run this module's tests on other workers' stacks): each
    refusal is caused here, then read back from the gateway's /metrics."""
    hop = hstack["hops"]["gateway"]
    before = events(hop.port)
    h = hop.host.encode()
    for data in (
        b"GET /h11/echo HTTP/1.1\r\n\r\n",  # bad-host
        hop.req("GET", "echo", [("X-Big", "b" * (9 << 10))]),  # headers-too-large
        b"GET /" + b"u" * (16 << 10),  # uri-too-long
        b"GET /h11/echo HTTP/2.0\r\nHost: " + h + b"\r\n\r\n",  # unsupported-version
        b"POST /h11/echo HTTP/1.1\r\nHost: " + h + b"\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",  # connect-not-supported
        b"GET /h11/echo HTTP/1.1\r\nHost: " + h + b"\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
        b"GET /h11/ec",
    ):  # request-timeout
        raw(hop, data, wait_s=3)
    got = events(hop.port)
    for reason in (
        "bad-host",
        "headers-too-large",
        "uri-too-long",
        "request-timeout",
        "unsupported-version",
        "bad-framing",
        "connect-not-supported",
        "upgrade-not-supported",
    ):
        assert got.get(reason, 0) > before.get(reason, 0), (reason, got)


assert Path(__file__).name.startswith("test_http_")
