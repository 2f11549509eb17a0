"""An upstream's answer as the client hands it back, and the client's typed failures.

The retry policy tells the failures apart, so each says what happened on the wire:

    UpstreamError
    ├── ConnectFailed           connection refused / unreachable (nothing was sent)
    ├── UpstreamReset           the connection broke before a complete response
    ├── UpstreamIdleTimeout     the body stopped arriving for longer than the idle timeout
    └── UpstreamProtocolError   the upstream spoke something that is not HTTP/1.1 (never retried:
        │                       a broken upstream answers the retry the same way)
        └── UpstreamHeadTooLarge   its response head passed the limit (HAProxy and nginx: 502)

Each `reason` is a member of `gatemesh.reasons.Reason`, which is what the client reads.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from ..reasons import Reason
from .messages import Headers

if TYPE_CHECKING:
    from .connection import UpstreamConnection


class UpstreamError(Exception):
    reason: ClassVar[str] = Reason.UPSTREAM_ERROR  # ClassVar: compiled, a plain annotation is an instance field


class ConnectFailed(UpstreamError):
    reason = Reason.CONNECT_FAILED


class UpstreamReset(UpstreamError):
    reason = Reason.UPSTREAM_RESET


class UpstreamIdleTimeout(UpstreamError):
    reason = Reason.UPSTREAM_IDLE_TIMEOUT


class UpstreamProtocolError(UpstreamError):
    reason = Reason.UPSTREAM_PROTOCOL_ERROR


class UpstreamHeadTooLarge(UpstreamProtocolError):
    reason = Reason.UPSTREAM_HEAD_TOO_LARGE


class ClientResponse:
    """Status and headers of an upstream response; the body arrives behind them."""

    __slots__ = ("status", "headers", "complete", "body", "_chunks", "_conn", "_waiter", "_error")

    def __init__(self, conn: UpstreamConnection | None):
        """`conn` is the connection the rest of the body arrives on; None for an answer that
        is complete as made (the unit tests' scripted pool)."""
        self.status = 0
        self.headers: Headers = []
        self.complete = False
        self.body = b""  # the whole body, set once `complete` (a streamed one is in iter_body's chunks)
        self._chunks: list[bytes] = []  # a list, not a deque: ~4x cheaper to make, and most bodies are one chunk
        self._conn = conn
        self._waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None

    async def read(self) -> bytes:
        """Wait for and return the whole body."""
        while not self.complete:
            await self._wait()
        return self.body

    def iter_body(self) -> BodyStream:
        """The body as it arrives. Closing the stream early (the client went away) cuts the
        upstream connection at once, so an abandoned stream holds no upstream socket."""
        return BodyStream(self)

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        conn = self._conn
        assert conn is not None, "only a response read from a connection waits for its body"
        self._waiter = conn.loop.create_future()
        # Only a body that did not arrive with its head waits here, so the hot path (small
        # answers, whole in one read) arms no timer.
        timer = conn.loop.call_later(conn.pool.config.body_idle_timeout_s, conn.idle_expired, self._waiter)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            if self._error is not None:
                self._waiter.set_exception(self._error)
            else:
                self._waiter.set_result(None)

    def fail(self, err: Exception) -> None:
        self._error = err
        self._wake()

    def release(self) -> None:
        """Give up on the rest of the body: the connection cannot be reused."""
        if not self.complete and self._conn is not None:
            self._conn.abort()


class BodyStream:
    """`async for chunk in resp.iter_body()`: the chunks as they arrive, then the end.

    A class rather than an async generator so that mypyc compiles it (it has none) and
    with it `ClientResponse`, whose fields every request reads. It keeps the generator's
    contract: the upstream connection is given up (`release`) when the body ends, when
    waiting for it fails, and on `aclose()` by a writer that stops early."""

    __slots__ = ("_resp", "_pending", "_next")

    def __init__(self, resp: ClientResponse):
        self._resp = resp
        self._pending: list[bytes] = []  # chunks taken from the response, not yet handed out
        self._next = 0

    def __aiter__(self) -> BodyStream:
        return self

    async def __anext__(self) -> bytes:
        resp = self._resp
        while True:
            if self._next < len(self._pending):
                chunk = self._pending[self._next]
                self._next += 1
                return chunk
            if resp._chunks:
                self._pending, resp._chunks, self._next = resp._chunks, [], 0
                continue
            if resp.complete:
                resp.release()
                raise StopAsyncIteration
            try:
                await resp._wait()
            except BaseException:
                resp.release()
                raise

    async def aclose(self) -> None:
        self._resp.release()
