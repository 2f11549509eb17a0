"""Drive the real server and client protocols with bytes, in process, without sockets.

The protocols are asyncio.Protocol objects; a `FakeTransport` records what they write and
whether they closed, so thousands of generated inputs run per second. The same objects
serve real sockets in the integration tests and the differential corpus.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httptools

from gatemesh.http.client import UpstreamConnection
from gatemesh.http.limits import ServerLimits
from gatemesh.http.listener import Listener
from gatemesh.http.messages import Request, Response
from gatemesh.http.pool import ConnectionPool, PoolConfig
from gatemesh.http.server import HttpServerProtocol

_LOOP = asyncio.new_event_loop()  # one loop for every example: asyncio.run's set-up costs more than most examples


def run(coro: Any) -> Any:
    return _LOOP.run_until_complete(coro)


LIMITS = ServerLimits(max_body_bytes=4096, max_request_line_bytes=512, max_header_line_bytes=512, max_header_bytes=2048)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False
        self.paused = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed or not data, "wrote after close"
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5555), "sockname": ("127.0.0.1", 8080)}.get(name, default)


@dataclass
class ServerRun:
    requests: list[Request] = field(default_factory=list)
    out: bytes = b""
    closed: bool = False
    max_pending: int = 0


def run_server(chunks: list[bytes], limits: ServerLimits = LIMITS) -> ServerRun:
    """Feed `chunks` to one server connection whose handler echoes the request it got."""
    result = ServerRun()

    async def handler(req: Request) -> Response:
        result.requests.append(req)
        return Response(200, [(b"x-n", b"%d" % len(result.requests))], req.body)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        listener = Listener(handler, limits, b"fuzz", loop)
        proto = HttpServerProtocol(listener)
        t = FakeTransport()
        proto.connection_made(t)
        for chunk in chunks:
            if t.closed:
                break
            proto.data_received(chunk)
            pending = proto._pending
            result.max_pending = max(result.max_pending, len(pending) if pending is not None else 0)
            for _ in range(3):
                await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)
        listener.close()
        proto.connection_lost(None)
        result.out, result.closed = bytes(t.out), t.closed

    run(main())
    return result


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    complete: bool


def parse_answers(data: bytes, head_requests: int = 0) -> list[Answer]:
    """Parse a byte stream of responses strictly; raises httptools.HttpParserError on a bad one."""
    answers: list[Answer] = []

    class P:
        def on_message_begin(self) -> None:
            answers.append(Answer(0, [], b"", False))

        def on_header(self, n: bytes, v: bytes) -> None:
            answers[-1].headers.append((n.lower(), v))

        def on_headers_complete(self) -> None:
            answers[-1].status = parser.get_status_code()

        def on_body(self, b: bytes) -> None:
            answers[-1].body += b

        def on_message_complete(self) -> None:
            answers[-1].complete = True

    parser = httptools.HttpResponseParser(P())
    parser.feed_data(data)
    return answers


@dataclass
class ClientRun:
    status: int | None = None
    body: bytes = b""
    error: str | None = None
    reusable: bool = False


def run_client(chunks: list[bytes], close_after: bool, head: bool = False) -> ClientRun:
    """Feed an upstream's answer to one client connection, then (maybe) close it."""
    result = ClientRun()

    async def main() -> None:
        pool = ConnectionPool(PoolConfig(max_head_bytes=2048, body_idle_timeout_s=5))
        conn = UpstreamConnection(pool, ("127.0.0.1", 1))
        t = FakeTransport()
        conn.connection_made(t)
        pool._idle[conn.key] = [conn]
        fut = asyncio.ensure_future(pool.request("127.0.0.1", 1, b"HEAD" if head else b"GET", b"/", [(b"host", b"x")]))
        await asyncio.sleep(0)
        for chunk in chunks:
            if t.closed:
                break
            conn.data_received(chunk)
            await asyncio.sleep(0)
        if close_after and not t.closed:
            conn.connection_lost(None)
        elif t.closed and not conn.closed:
            conn.connection_lost(None)
        try:
            resp = await asyncio.wait_for(fut, 0.05)
            result.status = resp.status
            result.body = await asyncio.wait_for(resp.read(), 0.05)
            result.reusable = conn in pool._idle.get(conn.key, [])
        except Exception as exc:  # every failure must be a typed one: checked by the caller
            result.error = type(exc).__name__
        finally:
            pool.close()

    run(main())
    return result
