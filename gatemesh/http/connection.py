"""One upstream HTTP/1.1 connection on an asyncio protocol and httptools: a state machine
that carries one exchange at a time and returns to its pool only after the *final*
answer has been read whole.

The response is handed back at the end of its final head; small bodies that arrived in
the same read are already complete (`response.complete`), which lets the proxy answer
with one write and no extra loop turn.

Interim answers (RFC 9110 §15.2) are consumed here, never handed on as the answer:
100 Continue and 103 Early Hints are dropped (the proxy sent the whole body at once and
answers the client's own `Expect` itself, as Envoy does by default), and 101 Switching
Protocols is a protocol error, since this client never asks for an upgrade. A response
without Content-Length or chunked framing is delimited by the close (RFC 9112 §6.3), so
the close completes it; any other close before the end is a reset.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httptools

from .messages import Headers, request_bytes
from .response import ClientResponse, UpstreamHeadTooLarge, UpstreamIdleTimeout, UpstreamProtocolError, UpstreamReset
from .stats import count

if TYPE_CHECKING:
    from .pool import ConnectionPool

# Methods whose request carries a Content-Length even when the body is empty.
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})


def close_delimited(headers: Headers) -> bool:
    """RFC 9112 §6.3 rule 8: neither Content-Length nor Transfer-Encoding → read until close."""
    return not any(n == b"content-length" or n == b"transfer-encoding" for n, _ in headers)


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "pool",
        "key",
        "loop",
        "transport",
        "parser",
        "response",
        "headers_future",
        "head_request",
        "closed",
        "_headers",
        "head_bytes",
        "interim",
        "idle_gen",
        "max_head",
        "deadlines",
        "head_deadline",
        "head_timeout_s",
    )

    def __init__(self, pool: ConnectionPool, key: tuple[str, int]):
        self.pool = pool
        self.key = key
        # Kept, not looked up per request: asyncio.get_running_loop() makes a getpid()
        # system call on every call (its fork check), one per request on the hot path.
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: ClientResponse | None = None
        self.headers_future: asyncio.Future[ClientResponse] | None = None
        self.head_request = False
        self.closed = False
        self._headers: Headers = []
        self.head_bytes = -1  # bytes of head(s) read for this exchange; -1 once the final head is in
        self.interim = False  # the head being parsed is a 1xx
        self.idle_gen = 0  # the pool's sweep generation when this connection went idle
        self.max_head = pool.config.max_head_bytes
        self.deadlines = pool.deadlines  # the pool's one timer for every wait on a head
        self.head_deadline = 0.0  # loop time by which this exchange's final head is due (0: no limit)
        self.head_timeout_s = 0.0

    def send(
        self, method: bytes, target: bytes, headers: Headers, body: bytes, timeout_s: float | None
    ) -> asyncio.Future[ClientResponse]:
        """Start one exchange on this (idle) connection: the future of its final head.

        A plain call, not a coroutine: the pipeline awaits the future itself, which saves a
        coroutine frame on the way in and on every resumption. The caller aborts the
        connection if it stops waiting (cancelled); past `timeout_s` the pool's deadline
        timer (deadlines.py) fails the future and aborts."""
        resp = ClientResponse(self)
        self.response = resp
        self._headers = resp.headers  # filled by on_header
        self.head_request = method == b"HEAD"
        self.head_bytes = 0
        fut: asyncio.Future[ClientResponse] = self.loop.create_future()
        self.headers_future = fut
        assert self.transport is not None
        self.transport.write(request_bytes(method, target, headers, body, bool(body) or method in _BODY_METHODS))
        if timeout_s is not None:
            self.head_deadline = at = self.loop.time() + timeout_s
            self.head_timeout_s = timeout_s
            self.deadlines.watch(self, at, self.loop)
        return fut

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        resp = self.response
        if resp is None or resp.complete:
            return
        if exc is None and self.head_bytes < 0 and not self.head_request and close_delimited(resp.headers):
            self._finish(reusable=False)  # the close is this message's end
            return
        self._fail(
            UpstreamReset(
                f"upstream {self.key[0]}:{self.key[1]} closed the connection mid-response"
                + (f" ({exc})" if exc else "")
            )
        )

    def data_received(self, data: bytes) -> None:
        if self.response is None:  # unsolicited bytes: the connection is unusable
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(
                UpstreamProtocolError(
                    f"upstream {self.key[0]}:{self.key[1]} switched protocols (101) although no upgrade was asked for"
                )
            )
            return
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"upstream {self.key[0]}:{self.key[1]} sent a malformed response: {exc}"))
            return
        if self.head_bytes < 0:  # the final head is in (the everyday case: in its first read)
            return
        self.head_bytes += len(data)
        if self.head_bytes > self.max_head:  # httptools' own buffer of a head grows no more than this
            self._fail(
                UpstreamHeadTooLarge(
                    f"upstream {self.key[0]}:{self.key[1]} sent a response head over {self.max_head} bytes"
                )
            )

    def eof_received(self) -> bool | None:
        return None

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        resp: ClientResponse = self.response  # type: ignore[assignment]  # a head only comes inside a response
        status = self.parser.get_status_code()
        if status < 200:
            # An interim answer: never the answer to this request. Its headers go; the
            # final head follows on the same connection.
            self.interim = True
            self._headers.clear()
            count("upstream-interim-dropped" if status != 101 else "upstream-101-refused")
            return
        resp.status = status
        self.head_bytes = -1
        if self.head_deadline:
            self.head_deadline = 0.0
            self.deadlines.unwatch(self)
        fut = self.headers_future
        if fut is not None and not fut.done():
            fut.set_result(resp)
        if self.head_request or status in (204, 304):
            self._finish(self.parser.should_keep_alive() and not self.head_request)

    def on_body(self, body: bytes) -> None:
        resp: ClientResponse = self.response  # type: ignore[assignment]  # a body only comes inside a response
        resp._chunks.append(body)
        if resp._waiter is not None:
            resp._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if self.response is not None and not self.response.complete:
            self._finish(self.parser.should_keep_alive())

    def _finish(self, reusable: bool) -> None:
        resp = self.response
        assert resp is not None
        resp.complete = True
        chunks = resp._chunks
        resp.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if resp._waiter is not None:
            resp._wake()
        self.response = None
        self.headers_future = None
        if reusable and not self.closed:
            self.pool.release(self)
        else:
            self.abort()

    def _fail(self, err: Exception) -> None:
        fut = self.headers_future
        if fut is not None and not fut.done():
            fut.set_exception(err)
        if self.response is not None:
            self.response.fail(err)
        self.abort()

    def time_out(self, fut: asyncio.Future[ClientResponse], timeout_s: float) -> None:
        """The response head did not arrive in time: fail the request, drop the connection.

        `fut` is the head future of the request the timer was armed for: once that is
        done, the connection may already serve the next request, which must not be hit."""
        if not fut.done():
            fut.set_exception(
                TimeoutError(f"no response head from {self.key[0]}:{self.key[1]} within {timeout_s * 1000:.0f} ms")
            )
            self.abort()

    def idle_expired(self, waiter: asyncio.Future[None]) -> None:
        """The body stopped arriving for the idle timeout (HAProxy's `timeout server`)."""
        if not waiter.done() and self.response is not None:
            count("upstream-idle-timeout")
            self._fail(
                UpstreamIdleTimeout(
                    f"upstream {self.key[0]}:{self.key[1]} sent no body byte for "
                    f"{self.pool.config.body_idle_timeout_s:g} s"
                )
            )

    def abort(self) -> None:
        self.closed = True
        if self.head_deadline:
            self.head_deadline = 0.0
            self.deadlines.unwatch(self)
        if self.transport is not None:
            self.transport.close()
