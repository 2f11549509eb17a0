"""A pooled HTTP/1.1 client for upstream calls, on asyncio protocols and httptools.

One request at a time per connection; idle keep-alive connections are pooled per
upstream address and dropped the moment the peer closes them, so a pooled connection
is rarely stale. The response is handed back at the end of its headers; small bodies
that arrived in the same read are already complete (`response.complete`), which lets
the proxy answer with one write and no extra loop turn.

Failures are typed, because the retry policy tells them apart:
    UpstreamError
    ├── ConnectFailed      connection refused / unreachable (nothing was sent)
    ├── UpstreamReset      the connection broke before a complete response
    └── UpstreamProtocolError   the upstream spoke something that is not HTTP/1.1
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import AsyncIterator

import httptools

from ..reasons import Reason
from .messages import Headers, request_head


class UpstreamError(Exception):
    reason = Reason.UPSTREAM_ERROR


class ConnectFailed(UpstreamError):
    reason = Reason.CONNECT_FAILED


class UpstreamReset(UpstreamError):
    reason = Reason.UPSTREAM_RESET


class UpstreamProtocolError(UpstreamError):
    reason = Reason.UPSTREAM_ERROR


class ClientResponse:
    """Status and headers of an upstream response; the body arrives behind them."""

    __slots__ = ("status", "headers", "complete", "_chunks", "_conn", "_waiter", "_error", "_consumed")

    def __init__(self, conn: "UpstreamConnection"):
        self.status = 0
        self.headers: Headers = []
        self.complete = False
        self._chunks: deque[bytes] = deque()
        self._conn = conn
        self._waiter: asyncio.Future | None = None
        self._error: Exception | None = None
        self._consumed = False

    @property
    def body(self) -> bytes:
        """The whole body; only valid once `complete`."""
        if len(self._chunks) == 1:
            return self._chunks[0]
        return b"".join(self._chunks)

    async def read(self) -> bytes:
        """Wait for and return the whole body."""
        while not self.complete:
            await self._wait()
        return self.body

    async def iter_body(self) -> AsyncIterator[bytes]:
        while True:
            while self._chunks:
                yield self._chunks.popleft()
            if self.complete:
                return
            await self._wait()

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = self._conn.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            if self._error is not None:
                self._waiter.set_exception(self._error)
            else:
                self._waiter.set_result(None)

    def release(self) -> None:
        """Give up on the rest of the body: the connection cannot be reused."""
        if not self.complete:
            self._conn.abort()


class UpstreamConnection(asyncio.Protocol):
    __slots__ = ("pool", "key", "loop", "transport", "parser", "response", "headers_future",
                 "head_request", "closed", "_headers")

    def __init__(self, pool: "ConnectionPool", key: tuple[str, int]):
        self.pool = pool
        self.key = key
        # Kept, not looked up per request: asyncio.get_running_loop() makes a getpid()
        # system call on every call (its fork check), one per request on the hot path.
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: ClientResponse | None = None
        self.headers_future: asyncio.Future | None = None
        self.head_request = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        resp = self.response
        if resp is not None and not resp.complete:
            err = UpstreamReset(f"upstream {self.key[0]}:{self.key[1]} closed the connection mid-response"
                                + (f" ({exc})" if exc else ""))
            if self.headers_future is not None and not self.headers_future.done():
                self.headers_future.set_exception(err)
            resp._error = err
            resp._wake()

    def data_received(self, data: bytes) -> None:
        if self.response is None:  # unsolicited bytes: the connection is unusable
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            err = UpstreamProtocolError(f"upstream {self.key[0]}:{self.key[1]} sent a malformed response: {exc}")
            if self.headers_future is not None and not self.headers_future.done():
                self.headers_future.set_exception(err)
            if self.response is not None:
                self.response._error = err
                self.response._wake()
            self.abort()

    def eof_received(self) -> bool | None:
        return None

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        resp = self.response
        resp.status = self.parser.get_status_code()
        fut = self.headers_future
        if fut is not None and not fut.done():
            fut.set_result(resp)
        if self.head_request or resp.status in (204, 304) or resp.status < 200:
            self._finish()

    def on_body(self, body: bytes) -> None:
        resp = self.response
        resp._chunks.append(body)
        if resp._waiter is not None:
            resp._wake()

    def on_message_complete(self) -> None:
        if self.response is not None and not self.response.complete:
            self._finish()

    def _finish(self) -> None:
        resp = self.response
        resp.complete = True
        resp._wake()
        reusable = self.parser.should_keep_alive() and not self.head_request
        self.response = None
        self.headers_future = None
        if reusable and not self.closed:
            self.parser = httptools.HttpResponseParser(self) if self.head_request else self.parser
            self.pool._release(self)
        else:
            self.abort()

    def time_out(self, fut: asyncio.Future, timeout_s: float) -> None:
        """The response head did not arrive in time: fail the request, drop the connection.

        `fut` is the head future of the request the timer was armed for: once that is
        done, the connection may already serve the next request, which must not be hit."""
        if not fut.done():
            fut.set_exception(TimeoutError(f"no response head from {self.key[0]}:{self.key[1]} "
                                           f"within {timeout_s * 1000:.0f} ms"))
            self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class ConnectionPool:
    """Keep-alive connections per (host, port)."""

    def __init__(self, max_idle_per_host: int = 64):
        self._idle: dict[tuple[str, int], list[UpstreamConnection]] = {}
        self._max_idle = max_idle_per_host

    def _release(self, conn: UpstreamConnection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.abort()

    def _forget(self, conn: UpstreamConnection) -> None:
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def _connect(self, key: tuple[str, int]) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: UpstreamConnection(self, key), key[0], key[1])
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {key[0]}:{key[1]}: {exc.strerror or exc}") from None
        return conn

    async def request(self, host: str, port: int, method: bytes, target: bytes, headers: Headers,
                      body: bytes = b"", timeout_s: float | None = None) -> ClientResponse:
        """Send one request; returns once the response headers are in.

        `headers` must not contain framing headers: Content-Length is set here.
        `timeout_s` bounds the whole wait for the response head, connecting included:
        TimeoutError when it passes (the connection is closed, never reused). One timer
        on the event loop does it, armed here and cancelled when the head arrives.
        Cancelling the caller closes the connection too.
        """
        key = (host, port)
        conn = None
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()   # the most recently used: the least likely to be stale
            if not conn.closed:
                break
            conn = None
        if conn is None:
            if timeout_s is None:
                conn = await self._connect(key)
            else:
                started = asyncio.get_running_loop().time()
                async with asyncio.timeout(timeout_s):
                    conn = await self._connect(key)
                timeout_s = max(0.0, timeout_s - (conn.loop.time() - started))
        loop = conn.loop
        resp = ClientResponse(conn)
        conn.response = resp
        conn._headers = resp.headers   # filled by the parser's on_header
        conn.head_request = method == b"HEAD"
        fut = conn.headers_future = loop.create_future()
        head = request_head(method, target, headers)
        if body or method in (b"POST", b"PUT", b"PATCH"):
            head += b"content-length: %d\r\n\r\n" % len(body)
            conn.transport.write(head + body if body else head)
        else:
            conn.transport.write(head + b"\r\n")
        timer = loop.call_later(timeout_s, conn.time_out, fut, timeout_s) if timeout_s is not None else None
        try:
            return await fut
        except asyncio.CancelledError:
            conn.abort()
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        for conns in self._idle.values():
            for conn in list(conns):
                conn.abort()
        self._idle.clear()
