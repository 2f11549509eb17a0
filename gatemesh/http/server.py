"""A lean HTTP/1.1 server on asyncio protocols and the httptools (llhttp) parser.

Why not aiohttp.web: a proxy hop pays the server's per-request cost on every call, and
aiohttp's request/response objects cost ~10x a protocol-level server (see
docs/performance.md). This server does what a proxy needs and no more: keep-alive,
pipelined requests answered in order, Content-Length and chunked bodies both ways,
backpressure when the client reads slowly, and the handler's task cancelled when the
client goes away (the upstream call is abandoned and its connection cut, as Envoy does
on a downstream reset). Every size has a limit and every wait a timeout (`ServerLimits`,
enforced by the `Listener`); every refusal names its `Reason` (docs/http.md).

The head is fed to llhttp only once its end (CRLF CRLF) is in: pieces are gathered in a
bytearray (linear time, bounded by `max_header_bytes`), since llhttp's bindings append a
half-received header or URL to itself with `+=` on every read (quadratic). A complete
head, the everyday case, is fed straight from the read without a copy.

Framing of an answer is the server's job, never the handler's: see `framing` and
`write.py`. A stream that breaks cuts the connection, so the client sees a truncated
message, never a short one that looks complete.

The parser's callbacks (the message as it arrives, its limits and head rules) are
reader.py's `RequestReader`; this class adds the connection: its events, its reads,
and the refusals and timeouts that end it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools

from ..reasons import Reason
from .answer import gather
from .head import HeadRefused
from .limits import ServerLimits
from .listener import BODY, HEAD, IDLE, Handler, Listener
from .messages import Response
from .reader import RequestReader
from .stats import count
from .write import error_response, framing, write_whole

__all__ = ["Handler", "HttpServerProtocol", "ServerLimits", "framing", "serve"]
log = logging.getLogger("gatemesh.http")
_END = b"\r\n\r\n"


class HttpServerProtocol(RequestReader):
    __slots__ = ()

    # --- connection events -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if peer else ""
        refused = self._l.opened(self)
        if refused is not None:
            count(refused)
            self._closing = self._deaf = True
            lim = self._l.limits
            message = (
                f"this listener holds its limit of {lim.max_connections} connections; retry later"
                if refused is Reason.TOO_MANY_CONNECTIONS
                else f"{self._peer} holds its limit of {lim.max_connections_per_client} connections here; retry later"
            )
            write_whole(transport, b"GET", error_response(refused, message, self._l.proxy), keep_alive=False)  # type: ignore[arg-type]
            transport.close()
            return
        local = transport.get_extra_info("sockname")
        cert = transport.get_extra_info("peercert")  # None on a plain connection
        if cert:
            self._identity = next((v for k, v in cert.get("subjectAltName", ()) if k == "URI"), None)
        self._local = b"%s:%d" % (local[0].encode(), local[1]) if local and len(local) >= 2 else b"localhost"

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = self._deaf = True
        self._l.closed(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()  # the client is gone: abandon the upstream call
        if self._writable is not None:
            self._writable.set()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.Event()
        self._writable.clear()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()

    def busy(self) -> bool:
        return self._busy or bool(self._queue)

    def data_received(self, data: bytes) -> None:
        if self._deaf:
            return
        if self.state != BODY:
            if self.state == IDLE:
                self.state, self.since = HEAD, self._l.tick
            # endswith first: a GET's whole head ends its read (a search costs ~2k instructions)
            if self._pending is not None or not (data.endswith(_END) or _END in data):
                data = gather(self, data)
                if not data:
                    return
        self._last = data
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._reject is None:  # not refused in on_headers_complete: cannot happen, but never forward it
                self._reject = HeadRefused(Reason.UPGRADE_NOT_SUPPORTED, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            if self._reject is None:
                self._reject = (
                    HeadRefused(Reason.UNSUPPORTED_VERSION, "only HTTP/1.1 and HTTP/1.0 are spoken here")
                    if "Invalid HTTP version" in str(exc)
                    else HeadRefused(Reason.BAD_REQUEST, f"malformed HTTP request: {exc}")
                )
        if self._reject is not None:
            count(self._reject.reason)
            self._fail(error_response(self._reject.reason, self._reject.message, self._l.proxy))

    # --- answering ---------------------------------------------------------------
    def time_out(self, reason: str | None, message: str) -> None:
        """Called by the listener's sweeper: a wait passed its limit."""
        count(reason or "keepalive-idle-closed")
        if reason is None:
            self._closing = self._deaf = True
            if self._transport is not None:
                self._transport.close()
        else:
            self._fail(error_response(Reason(reason), message, self._l.proxy))

    def abort(self) -> None:
        """Close at once (the listener's last resort)."""
        self._closing = self._deaf = True
        if self._transport is not None:
            self._transport.abort()

    def answer_timed_out(self) -> None:
        """Called by the listener's sweeper: the handler took longer than answer_timeout_s."""
        if self.in_handler and self._task is not None and not self._task.done():
            count("answer-timeout")
            self._timed_out = True
            self._task.cancel()

    def _fail(self, response: Response) -> None:
        """Answer the requests already queued, then `response`, then close."""
        if self._closing or self._transport is None or self._final is not None:
            return
        self._final = response
        self._deaf = True
        if self._transport.is_closing():  # the peer is gone already: nothing to answer
            self._closing = True
            return
        self._transport.pause_reading()
        if not self.busy():  # nothing in flight: answer now
            self._closing = True
            write_whole(self._transport, b"GET", response, keep_alive=False)
            self._transport.close()
        # else: _serve answers what is queued first, then this

    def writable(self) -> asyncio.Event | None:
        return self._writable

    def closing(self) -> bool:
        return self._closing


async def serve(
    handler: Handler,
    host: str,
    port: int,
    *,
    limits: ServerLimits | None = None,
    proxy_name: str = "gatemesh",
    reuse_port: bool = False,
    tls: Any = None,
) -> asyncio.Server:
    """Start listening; returns the asyncio Server (close() + wait_closed() to stop). ``tls``
    (gatemesh.security.tls.TlsListener) accepts instead, and decides TLS per connection."""
    loop = asyncio.get_running_loop()
    # No limits given: the defaults. A proxy's shell passes its GATEMESH_HTTP_* overrides.
    lim = limits or ServerLimits()
    listener = Listener(handler, lim, proxy_name.encode(), loop)
    if tls is not None:
        return await tls.serve(lambda: HttpServerProtocol(listener), host, port)  # type: ignore[no-any-return]
    return await loop.create_server(
        lambda: HttpServerProtocol(listener), host, port, reuse_port=reuse_port, backlog=1024
    )
