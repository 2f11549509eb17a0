"""The two halves of a connection that are not parser callbacks: gathering an unfinished
head (per read, off the everyday path) and the loop that answers requests in order
(one task per connection). Both work on the `HttpServerProtocol` they are given.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..reasons import Reason
from .head import check_unfinished
from .listener import IDLE
from .stats import count
from .write import error_response, write_stream, write_whole

if TYPE_CHECKING:
    from .server import HttpServerProtocol

log = logging.getLogger("gatemesh.http")
_END = b"\r\n\r\n"


def gather(conn: HttpServerProtocol, data: bytes) -> bytes:
    """A head without its end yet: gather it (linear), refuse it once over a limit; the
    bytes to feed once the end is in, else b"". The end may straddle the last feed."""
    pending = conn._pending
    # A bare LF can never end a head llhttp accepts: feed it now and let llhttp refuse it.
    bare_lf = data.count(b"\n") != data.count(b"\r\n") + (data[:1] == b"\n")
    if pending is None:
        if bare_lf or _END in conn._last[-3:] + data[:3]:
            return data
        pending = conn._pending = bytearray(data)
    else:
        start = len(pending) - 3
        pending += data
        if bare_lf or pending.find(_END, max(start, 0)) >= 0 or _END in conn._last[-3:] + pending[:3]:
            conn._pending = None
            return bytes(pending)
    refused = check_unfinished(pending, conn._max_line, conn._max_hline, conn._max_head, conn._url != b"")
    if refused is not None:
        conn._pending = None
        conn._reject = refused
        count(refused.reason)
        conn._fail(error_response(refused.reason, refused.message, conn._l.proxy))
    return b""


async def answer_loop(conn: HttpServerProtocol) -> None:
    """The connection's one task: answers queued requests in order, then waits for
    the next one (a future, cheaper than a task per request); ends when the
    connection does (connection_lost cancels it)."""
    queue = conn._queue
    transport = conn._transport
    assert transport is not None
    listener = conn._l
    handler = listener.handler
    try:
        while True:
            while queue:
                req = queue.popleft()
                if conn._paused_reading and len(queue) < conn._max_pipelined // 2 and conn._final is None:
                    conn._paused_reading = False
                    transport.resume_reading()
                conn._busy = conn.in_handler = True
                conn.since = listener.tick
                try:
                    resp = await handler(req)
                except asyncio.CancelledError:
                    if not conn._timed_out:
                        raise
                    conn._timed_out = False
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
                    resp = error_response(
                        Reason.TIMEOUT, f"no answer within {conn._l.limits.answer_timeout_s:g} s", conn._l.proxy
                    )
                except Exception:
                    log.exception("handler failed for %s %s", req.method, req.target)
                    resp = error_response(
                        Reason.INTERNAL_ERROR,
                        "the proxy failed while handling this request; see its log",
                        conn._l.proxy,
                    )
                conn.in_handler = False
                keep_alive = req.keep_alive and not conn._closing
                if resp.stream is None:
                    write_whole(transport, req.method, resp, keep_alive)
                else:
                    keep_alive = await write_stream(conn, transport, req.method, resp, keep_alive)
                conn._busy = False
                if not keep_alive:
                    transport.close()
                    return
                if conn.state == IDLE:
                    conn.since = listener.tick  # the keep-alive wait starts after the answer
            if conn._final is not None:
                conn._closing = True
                write_whole(transport, b"GET", conn._final, keep_alive=False)
                transport.close()
                return
            if conn._closing:
                transport.close()
                return
            idle: asyncio.Future[None] = conn._loop.create_future()
            conn._idle = idle
            await idle
    except asyncio.CancelledError:
        pass
    finally:
        conn._busy = False
        conn._idle = None
