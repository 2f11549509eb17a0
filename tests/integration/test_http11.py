"""HTTP/1.1 correctness of the proxy hops, over real sockets.

Two hops, every test run through each:

- ``gateway``: client → ``python -m gateway`` → origin
- ``sidecars``: client → caller sidecar outbound (Host-routed) → callee sidecar inbound → origin

The origin is a programmable HTTP/1.1 server on asyncio in a thread of this process
(``Origin``): it echoes what it received, streams a large body behind a gate the test
opens, answers chunked, 204/304/HEAD, adds hop-by-hop headers, or closes mid-body.
Clients are raw sockets, read with httptools, so framing is checked byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httptools
import pytest

from gatemesh.runner.process import spawn

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BIG_SIZE = 4 << 20  # the streamed body: far beyond any socket buffer on the way
FIRST_PIECE = 64 << 10  # what the origin sends before it waits for the gate
CUT_DECLARED = 100_000  # /cut declares this much and sends CUT_SENT, then closes
CUT_SENT = 1000


# --- the origin ---------------------------------------------------------------------------
class _OriginProtocol(asyncio.Protocol):
    def __init__(self, origin: Origin):
        self.origin = origin
        self.parser = httptools.HttpRequestParser(self)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.conn_id = origin.next_conn_id()

    def connection_made(self, transport):
        self.transport = transport
        self.origin.open_conns += 1
        self.task = asyncio.get_running_loop().create_task(self.serve())

    def connection_lost(self, exc):
        self.origin.open_conns -= 1
        self.task.cancel()

    def data_received(self, data):
        self.parser.feed_data(data)

    def on_message_begin(self):
        self.url, self.headers, self.body = b"", [], []

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers.append((name.decode().lower(), value.decode("latin-1")))

    def on_body(self, body):
        self.body.append(body)

    def on_message_complete(self):
        self.queue.put_nowait((self.parser.get_method().decode(), self.url.decode(), self.headers, b"".join(self.body)))

    async def serve(self):
        while True:
            method, target, headers, body = await self.queue.get()
            await self.origin.answer(self, method, target, headers, body)


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n").encode("latin-1")


class Origin:
    """The upstream every hop ends at. Behaviour by the last path segment."""

    def __init__(self, port: int):
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._conn_ids = 0
        self.open_conns = 0  # connections the proxies hold to the origin right now
        self.hits: dict[str, int] = {}  # requests received, by last path segment
        self.gate: asyncio.Event | None = None
        self.big_finished = threading.Event()
        self._thread = threading.Thread(target=self.loop.run_forever, name="origin", daemon=True)

    def next_conn_id(self) -> int:
        self._conn_ids += 1
        return self._conn_ids

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)

    async def _listen(self) -> None:
        self.gate = asyncio.Event()
        self.server = await self.loop.create_server(lambda: _OriginProtocol(self), "127.0.0.1", self.port)

    def close_gate(self) -> None:
        self.big_finished.clear()
        asyncio.run_coroutine_threadsafe(self._set_gate(False), self.loop).result(5)

    def open_gate(self) -> None:
        asyncio.run_coroutine_threadsafe(self._set_gate(True), self.loop).result(5)

    async def _set_gate(self, open_: bool) -> None:
        (self.gate.set if open_ else self.gate.clear)()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def answer(self, conn: _OriginProtocol, method: str, target: str, headers, body: bytes) -> None:
        w = conn.transport.write
        path, _, query = target.partition("?")
        name = path.rsplit("/", 1)[-1]
        self.hits[name] = self.hits.get(name, 0) + 1
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if name == "echo":
            await asyncio.sleep(int(params.get("delay_ms", "0")) / 1000)
            doc = json.dumps(
                {
                    "method": method,
                    "target": target,
                    "headers": headers,
                    "body": body.decode("latin-1"),
                    "conn": conn.conn_id,
                }
            ).encode()
            w(_head("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(doc)))]) + doc)
        elif name == "chunked":
            w(_head("200 OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]))
            for piece in (b"hello ", b"chunked ", b"world"):
                w(b"%x\r\n%s\r\n" % (len(piece), piece))
                await asyncio.sleep(0.01)
            w(b"0\r\n\r\n")
        elif name == "big":
            w(_head("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(BIG_SIZE))]))
            w(b"a" * FIRST_PIECE)
            try:
                await asyncio.wait_for(self.gate.wait(), 15)
            except TimeoutError:
                pass
            sent = FIRST_PIECE
            while sent < BIG_SIZE:
                n = min(64 << 10, BIG_SIZE - sent)
                w(b"b" * n)
                sent += n
                await asyncio.sleep(0)
            self.big_finished.set()
        elif name in ("204", "304"):
            extra = [("ETag", '"v1"')] if name == "304" else []
            w(_head("204 No Content" if name == "204" else "304 Not Modified", extra))
        elif name == "head":
            w(
                _head("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "1234")])
                + (b"" if method == "HEAD" else b"x" * 1234)
            )
        elif name == "hop":
            w(
                _head(
                    "200 OK",
                    [
                        ("Content-Length", "2"),
                        ("Connection", "keep-alive, X-Origin-Hop"),
                        ("X-Origin-Hop", "secret"),
                        ("Keep-Alive", "timeout=30"),
                        ("Proxy-Authenticate", "Basic"),
                        ("X-Origin-Kept", "yes"),
                    ],
                )
                + b"ok"
            )
        elif name == "cut":
            w(_head("200 OK", [("Content-Length", str(CUT_DECLARED))]) + b"c" * CUT_SENT)
            await asyncio.sleep(0.05)
            conn.transport.close()
        elif name == "cut-chunked":
            w(_head("200 OK", [("Transfer-Encoding", "chunked")]) + b"5\r\nfirst\r\n6\r\nsecond\r\n")
            await asyncio.sleep(0.05)
            conn.transport.close()
        elif name == "interim":
            # Interim answers ahead of the final one, each in its own write (as the sample
            # apps do): none of them is the answer, and the final one names this request.
            w(b"HTTP/1.1 100 Continue\r\n\r\n")
            await asyncio.sleep(0.005)
            w(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
            await asyncio.sleep(0.005)
            doc = json.dumps({"target": target, "conn": conn.conn_id}).encode()
            w(_head("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(doc)))]) + doc)
        elif name == "switch":
            w(_head("101 Switching Protocols", [("Upgrade", "websocket"), ("Connection", "upgrade")]) + b"\x81\x00")
        elif name == "badstatus":
            w(b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok")
        elif name == "bighead":
            w(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok")
        elif name == "closedelim":
            w(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil-")
            await asyncio.sleep(0.02)
            w(b"the-close")
            conn.transport.close()
        elif name == "silent":
            await asyncio.sleep(3600)  # never a byte of an answer
        elif name == "stall":
            w(_head("200 OK", [("Content-Length", "1000")]) + b"s" * 10)
            await asyncio.sleep(3600)
        else:
            w(_head("404 Not Found", [("Content-Length", "0")]))


# --- raw client ---------------------------------------------------------------------------
class Reply:
    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.header_list: list[tuple[str, str]] = []
        self.body = bytearray()
        self.complete = False


class Client:
    """One raw TCP connection; `read_replies` parses whatever arrives with httptools."""

    def __init__(self, port: int, timeout_s: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.replies: list[Reply] = []
        self.head_requests: list[bool] = []  # per expected reply: was it a HEAD?
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False

    def send(self, data: bytes, head: bool = False) -> None:
        self.sock.sendall(data)
        self.head_requests.append(head)

    # parser callbacks
    def on_message_begin(self):
        self.replies.append(Reply())

    def on_status(self, status):
        pass

    def on_header(self, name, value):
        r = self.replies[-1]
        r.header_list.append((name.decode().lower(), value.decode("latin-1")))
        r.headers[name.decode().lower()] = value.decode("latin-1")

    def on_headers_complete(self):
        r = self.replies[-1]
        r.status = self._parser.get_status_code()
        if self.head_requests[len(self.replies) - 1]:
            # A HEAD answer ends at its headers whatever Content-Length says; httptools
            # cannot be told so, so the parser is replaced once this read is parsed. Any
            # byte after the head in the same read lands in this reply's body: a bug we see.
            r.complete = True
            self._head_done = True

    def on_body(self, body):
        self.replies[-1].body += body

    def on_message_complete(self):
        self.replies[-1].complete = True
        self._head_done = False if not self.head_requests[len(self.replies) - 1] else self._head_done

    def feed(self, data: bytes) -> None:
        self._head_done = False
        try:
            self._parser.feed_data(data)
        finally:
            if self._head_done:
                self._parser = httptools.HttpResponseParser(self)

    def read_replies(self, n: int, deadline_s: float = 10.0) -> list[Reply]:
        """Read until `n` complete replies arrived (or EOF / deadline)."""
        end = time.monotonic() + deadline_s
        while sum(r.complete for r in self.replies) < n and not self.closed and time.monotonic() < end:
            self._recv()
        return self.replies

    def read_until(self, predicate, deadline_s: float = 10.0) -> None:
        end = time.monotonic() + deadline_s
        while not predicate() and not self.closed and time.monotonic() < end:
            self._recv()

    def read_to_eof(self, deadline_s: float = 10.0) -> None:
        self.read_until(lambda: False, deadline_s)

    def _recv(self) -> None:
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            return
        except ConnectionResetError:
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        try:
            self.feed(data)
        except httptools.HttpParserError:
            self.closed = True

    def close(self) -> None:
        self.sock.close()


def request(
    method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes | None = None, host: str = "test"
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"] + [f"{n}: {v}" for n, v in headers]
    if body is not None and not any(n.lower() == "transfer-encoding" for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


# --- the hops -----------------------------------------------------------------------------
class Hop:
    def __init__(self, name: str, port: int, host: str, prefix: str, via: list[str], xff_hops: int):
        self.name = name
        self.port = port
        self.host = host  # the Host header this hop routes by
        self.prefix = prefix  # path prefix that reaches the origin
        self.via = via  # what each proxy adds to Via, in order
        self.xff_hops = xff_hops  # how many proxies append to X-Forwarded-For

    def client(self) -> Client:
        return Client(self.port)

    def req(self, method: str, name: str, headers=(), body=None) -> bytes:
        return request(method, f"{self.prefix}/{name}", list(headers), body, self.host)

    def echo(self, headers=(), body=None, method="GET", query="") -> dict:
        c = self.client()
        try:
            c.send(self.req(method, "echo" + query, headers, body))
            (r,) = c.read_replies(1)
            assert r.status == 200, (r.status, r.headers, bytes(r.body))
            return json.loads(bytes(r.body))
        finally:
            c.close()


def _wait_200(port: int, path: str, host: str, procs, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < end:
        for p in procs:
            assert p.poll() is None, f"a proxy exited with {p.returncode}"
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"127.0.0.1:{port}{path} (Host: {host}) never answered 200: {last}")


@contextlib.contextmanager
def run_stack(port_bases, run: Path, env: dict[str, str] | None = None) -> Iterator[dict]:
    """The origin, a control plane, the gateway and two sidecars on a port base of their
    own; `env` is added to the proxies' environment (e.g. GATEMESH_HTTP_* limits)."""
    # A base of our own, never the worker's session base (taken first by asking for
    # port_base): our closed connections leave TIME_WAIT on these ports for a minute.
    base = port_bases.acquire()
    cp_port, origin_port, gw_port = base + 500, base + 1, base + 80
    callee_in, callee_out, caller_in, caller_out = base + 30, base + 31, base + 32, base + 33
    origin = Origin(origin_port)
    origin.start()
    procs = []
    py = sys.executable
    proc_env = {**os.environ, **(env or {})}

    def start(name, argv):
        procs.append(spawn(argv, run / f"{name}.log", env=proc_env, cwd=ROOT))

    try:
        start("controlplane", [py, "-m", "mesh.controlplane", "--port", str(cp_port), "--open"])
        cp = f"http://127.0.0.1:{cp_port}"
        _wait_ready(cp + "/health", procs)
        body = json.dumps({"address": f"127.0.0.1:{origin_port}", "ttl_s": 300}).encode()
        urllib.request.urlopen(
            urllib.request.Request(f"{cp}/v1/services/origin/instances/origin-1", data=body, method="PUT"), timeout=5
        ).close()
        config = {
            "listen": f"127.0.0.1:{gw_port}",
            "control_plane": cp,
            "proxy_name": "gateway",
            "routes": [{"name": "origin", "prefix": "/h11", "service": "origin"}],
            # Per try 4 s, not the 1 s default: these tests are about HTTP framing, and the
            # idle-pool test's 30 concurrent 300 ms answers took over 1 s on a loaded CI box.
            "policies": {"origin": {"timeout": {"attempt_timeout_s": 4.0}}},
            "apimgmt": {"enabled": False},
        }
        (run / "gateway.json").write_text(json.dumps(config))
        start("gateway", [py, "-m", "gateway", "--config", str(run / "gateway.json")])
        for name, service, inbound, outbound in (
            ("callee-1", "callee", callee_in, callee_out),
            ("caller-1", "caller", caller_in, caller_out),
        ):
            start(
                name,
                [
                    py,
                    "-m",
                    "mesh.sidecar",
                    "--service",
                    service,
                    "--instance",
                    name,
                    "--app",
                    f"127.0.0.1:{origin_port}",
                    "--inbound-port",
                    str(inbound),
                    "--outbound-port",
                    str(outbound),
                    "--advertise",
                    f"127.0.0.1:{inbound}",
                    "--control-plane",
                    cp,
                    "--ttl-s",
                    "30",
                ],
            )
        hops = {
            "gateway": Hop("gateway", gw_port, "test", "/h11", ["1.1 gateway"], 1),
            "sidecars": Hop(
                "sidecars", caller_out, "callee", "/h11", ["1.1 sidecar-caller-1", "1.1 sidecar-callee-1"], 2
            ),
        }
        for hop in hops.values():
            _wait_200(hop.port, "/h11/echo", hop.host, procs)
        yield {
            "hops": hops,
            "origin": origin,
            "run": run,
            "procs": procs,
            "sidecar_inbound": Hop("sidecar-inbound", callee_in, "callee", "/h11", ["1.1 sidecar-callee-1"], 1),
        }
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except Exception:
                p.kill()
        origin.stop()
        port_bases.release(base)


@pytest.fixture(scope="module")
def stack(port_base, port_bases, tmp_path_factory) -> Iterator[dict]:
    with run_stack(port_bases, tmp_path_factory.mktemp("http11")) as s:
        yield s


def _wait_ready(url: str, procs, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        assert procs[-1].poll() is None, "the control plane exited"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered")


@pytest.fixture(params=["gateway", "sidecars"])
def hop(request, stack) -> Hop:
    return stack["hops"][request.param]


@pytest.fixture
def origin(stack) -> Origin:
    return stack["origin"]


# --- keep-alive and pipelining ------------------------------------------------------------
def test_keep_alive_serves_sequential_requests_on_one_connection(hop):
    c = hop.client()
    try:
        for i in range(3):
            c.send(hop.req("GET", f"echo?i={i}"))
            replies = c.read_replies(i + 1)
            assert replies[i].complete and replies[i].status == 200
            assert json.loads(bytes(replies[i].body))["target"].endswith(f"?i={i}")
        assert not c.closed
    finally:
        c.close()


def test_upstream_connections_are_pooled_and_reused(hop):
    conns = {hop.echo()["conn"] for _ in range(4)}
    assert len(conns) == 1, f"4 sequential requests used {len(conns)} origin connections"


def test_pipelined_requests_are_answered_in_order(hop):
    c = hop.client()
    try:
        # the first is the slowest: answers must still come back in request order
        c.send(
            hop.req("GET", "echo?i=0&delay_ms=150")
            + hop.req("GET", "echo?i=1&delay_ms=0")
            + hop.req("GET", "echo?i=2&delay_ms=50")
        )
        c.head_requests += [False, False]
        replies = c.read_replies(3)
        assert [r.status for r in replies] == [200, 200, 200]
        assert [json.loads(bytes(r.body))["target"].split("?")[1].split("&")[0] for r in replies] == [
            "i=0",
            "i=1",
            "i=2",
        ]
    finally:
        c.close()


# --- bodies -------------------------------------------------------------------------------
def test_content_length_request_body_is_forwarded(hop):
    body = bytes(range(256)) * 40
    seen = hop.echo(method="POST", body=body)
    assert seen["method"] == "POST"
    assert seen["body"].encode("latin-1") == body
    assert dict(seen["headers"])["content-length"] == str(len(body))


def test_chunked_request_body_is_forwarded_whole(hop):
    chunks = [b"alpha-", b"beta-", b"x" * 5000]
    raw = b"".join(b"%x\r\n%s\r\n" % (len(ch), ch) for ch in chunks) + b"0\r\n\r\n"
    c = hop.client()
    try:
        c.send(hop.req("POST", "echo", [("Transfer-Encoding", "chunked")]) + raw)
        (r,) = c.read_replies(1)
        seen = json.loads(bytes(r.body))
    finally:
        c.close()
    assert seen["body"].encode("latin-1") == b"".join(chunks)
    headers = dict(seen["headers"])
    assert "transfer-encoding" not in headers  # the proxy buffered it and re-framed it
    assert headers["content-length"] == str(sum(map(len, chunks)))


def test_chunked_response_body_arrives_whole(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "chunked"))
        (r,) = c.read_replies(1)
        assert r.complete and r.status == 200
        assert bytes(r.body) == b"hello chunked world"
        assert not c.closed  # still usable afterwards
        c.send(hop.req("GET", "echo"))
        assert c.read_replies(2)[1].status == 200
    finally:
        c.close()


def test_large_response_is_streamed_not_buffered(hop, origin):
    origin.close_gate()
    c = hop.client()
    try:
        c.send(hop.req("GET", "big"))
        # The origin sent headers and its first 64 KiB and now waits for the gate: the
        # first bytes must reach us while it waits (a buffering proxy would hold them).
        c.read_until(lambda: c.replies and len(c.replies[0].body) > 0, deadline_s=10)
        assert c.replies and len(c.replies[0].body) > 0, "no body byte arrived while the origin was still sending"
        assert not origin.big_finished.is_set()
        assert c.replies[0].headers.get("content-length") == str(BIG_SIZE)
        origin.open_gate()
        c.read_replies(1, deadline_s=20)
        r = c.replies[0]
        assert r.complete and len(r.body) == BIG_SIZE
        assert r.body[:FIRST_PIECE] == b"a" * FIRST_PIECE and r.body[-1:] == b"b"
    finally:
        origin.open_gate()
        c.close()


# --- headers ------------------------------------------------------------------------------
def test_hop_by_hop_request_headers_are_stripped(hop):
    seen = hop.echo(
        [
            ("Connection", "keep-alive, X-Drop-Me"),
            ("X-Drop-Me", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("Trailer", "X-Sum"),
            ("Proxy-Connection", "keep-alive"),
            ("X-Kept", "yes"),
        ]
    )
    names = [n for n, _ in seen["headers"]]
    for gone in ("x-drop-me", "keep-alive", "te", "proxy-authorization", "trailer", "proxy-connection"):
        assert gone not in names, f"{gone} reached the origin"
    assert all(v.lower() != "keep-alive, x-drop-me" for n, v in seen["headers"] if n == "connection")
    assert dict(seen["headers"])["x-kept"] == "yes"


def test_hop_by_hop_response_headers_are_stripped(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "hop"))
        (r,) = c.read_replies(1)
    finally:
        c.close()
    assert r.status == 200 and bytes(r.body) == b"ok"
    names = [n for n, _ in r.header_list]
    for gone in ("x-origin-hop", "keep-alive", "proxy-authenticate"):
        assert gone not in names, f"{gone} reached the client"
    assert r.headers.get("x-origin-kept") == "yes"


def test_via_is_added_by_every_proxy(hop):
    seen = dict(hop.echo())
    assert dict(seen["headers"])["via"] == ", ".join(hop.via)
    seen = hop.echo([("Via", "1.0 corporate-proxy")])
    assert dict(seen["headers"])["via"] == ", ".join(["1.0 corporate-proxy", *hop.via])


def test_x_forwarded_for_is_added_and_appended(hop):
    seen = hop.echo()
    assert dict(seen["headers"])["x-forwarded-for"] == ", ".join(["127.0.0.1"] * hop.xff_hops)
    seen = hop.echo([("X-Forwarded-For", "203.0.113.9")])
    assert dict(seen["headers"])["x-forwarded-for"] == ", ".join(["203.0.113.9"] + ["127.0.0.1"] * hop.xff_hops)


# --- responses without a body -------------------------------------------------------------
def test_head_answer_has_no_body_and_keeps_the_connection(hop):
    c = hop.client()
    try:
        c.send(hop.req("HEAD", "head"), head=True)
        (r,) = c.read_replies(1)
        assert r.status == 200 and bytes(r.body) == b""
        assert r.headers.get("content-length") in ("1234", None)  # the GET's length, or none; never a wrong one
        c.send(hop.req("GET", "head"))
        replies = c.read_replies(2)
        assert replies[1].status == 200 and len(replies[1].body) == 1234
    finally:
        c.close()


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_have_no_body(hop, status):
    c = hop.client()
    try:
        # pipelined behind it: if the proxy sent any body bytes, the echo would not parse
        c.send(hop.req("GET", str(status)) + hop.req("GET", "echo"))
        c.head_requests.append(False)
        replies = c.read_replies(2)
        assert replies[0].status == status and bytes(replies[0].body) == b""
        assert "transfer-encoding" not in replies[0].headers
        if status == 204:
            assert "content-length" not in replies[0].headers
        else:
            assert replies[0].headers.get("etag") == '"v1"'
        assert replies[1].status == 200 and json.loads(bytes(replies[1].body))["method"] == "GET"
    finally:
        c.close()


# --- refusals -----------------------------------------------------------------------------
def test_oversized_content_length_body_is_413(hop):
    c = hop.client()
    try:
        c.send(hop.req("POST", "echo", [("Content-Length", str(2 << 20))]))  # headers only: refused on sight
        c.read_to_eof(deadline_s=10)
        r = c.replies[0]
        assert r.status == 413 and r.headers.get("x-gatemesh-reason") == "payload-too-large"
        assert c.closed
    finally:
        c.close()


def test_oversized_chunked_body_is_413(hop):
    c = hop.client()
    try:
        c.send(hop.req("POST", "echo", [("Transfer-Encoding", "chunked")]))
        piece = b"z" * (256 << 10)
        for _ in range(5):  # 1.25 MiB > the 1 MiB limit
            try:
                c.sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except (BrokenPipeError, ConnectionResetError):
                break
        c.read_to_eof(deadline_s=10)
        assert c.replies and c.replies[0].status == 413
        assert c.closed
    finally:
        c.close()


def test_oversized_headers_are_431(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "echo", [("X-Huge", "h" * (70 << 10))]))
        c.read_to_eof(deadline_s=10)
        assert c.replies and c.replies[0].status == 431
        assert c.closed
    finally:
        c.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    ],
)
def test_malformed_request_is_400_and_closed(hop, garbage):
    c = hop.client()
    try:
        c.send(garbage)
        c.read_to_eof(deadline_s=10)
        assert c.replies and c.replies[0].status == 400
        assert c.replies[0].headers.get("x-gatemesh-reason") == "bad-request"
        assert c.closed
    finally:
        c.close()


# --- an upstream that breaks mid-body -----------------------------------------------------
def test_upstream_closing_mid_body_cuts_the_downstream_connection(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "cut"))
        c.read_to_eof(deadline_s=10)
        assert c.closed, "the proxy kept the connection open after its upstream broke"
        r = c.replies[0]
        assert r.status == 200
        assert not r.complete, "a truncated body was reported as a complete message"
        assert len(r.body) < CUT_DECLARED
    finally:
        c.close()


def test_upstream_closing_mid_chunked_body_cuts_the_downstream_connection(hop):
    c = hop.client()
    try:
        c.send(hop.req("GET", "cut-chunked"))
        c.read_to_eof(deadline_s=10)
        assert c.closed
        r = c.replies[0]
        assert r.status == 200 and not r.complete
        assert bytes(r.body) in (b"", b"first", b"firstsecond")
    finally:
        c.close()


def test_the_hop_still_works_after_a_cut(hop):
    test_upstream_closing_mid_body_cuts_the_downstream_connection(hop)
    assert hop.echo()["method"] == "GET"
