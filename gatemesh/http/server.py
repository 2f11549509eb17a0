"""A lean HTTP/1.1 server on asyncio protocols and the httptools (llhttp) parser.

Why not aiohttp.web: a proxy hop pays the server's per-request cost on every call, and
aiohttp's request/response objects cost ~10x a protocol-level server (see
docs/performance.md). This server does what a proxy needs and no more: keep-alive,
pipelined requests answered in order, Content-Length and chunked bodies both ways,
limits on header and body size, backpressure when the client reads slowly, and the
handler's task cancelled when the client goes away (so the upstream call is abandoned,
as Envoy does on a downstream reset).

Framing of an answer is the server's job, never the handler's: it sends Content-Length
for a whole body, Content-Length or chunked for a stream, and nothing after the head of
a HEAD, 1xx, 204 or 304 answer. A stream that breaks (the upstream closed mid-body) cuts
the connection, so the client sees a truncated message, never a short one that looks
complete.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable

import httptools

from .messages import _STATUS_LINES, Request, Response, json_response, status_line

log = logging.getLogger("gatemesh.http")

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_body_bytes: int = 1 << 20          # 1 MiB: bodies are buffered for retries, so cap them (Envoy buffers up to its per_request_buffer_limit too)
    max_header_bytes: int = 64 << 10       # 64 KiB: generous for real clients, fatal for header floods
    max_pipelined: int = 16                # queued requests on one connection before reading pauses

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_header_bytes", "max_pipelined"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ServerLimits.{name} must be a positive integer, got {getattr(self, name)!r}.")


def _error(status: int, reason: str, message: str, proxy: bytes) -> Response:
    return json_response(status, {"error": message, "reason": reason},
                         [(b"x-gatemesh-reason", reason.encode()), (b"x-gatemesh-proxy", proxy)])


def framing(method: bytes, resp: Response) -> tuple[bytes, bool]:
    """The framing header line(s) for a whole-body answer, and whether its body is sent.

    RFC 9110 §6.4.1 and §8.6: 1xx and 204 carry neither a body nor Content-Length; a HEAD
    answer carries the length the GET would have had (the upstream's, when proxied); a
    304 carries one only when the upstream sent one.
    """
    status = resp.status
    if status < 200 or status == 204:
        return b"", False
    if method == b"HEAD":
        n = resp.content_length if resp.content_length is not None else len(resp.body)
        return b"content-length: %d\r\n" % n, False
    if status == 304:
        n = resp.content_length
        return (b"" if n is None else b"content-length: %d\r\n" % n), False
    return b"content-length: %d\r\n" % len(resp.body), True


class HttpServerProtocol(asyncio.Protocol):
    __slots__ = ("_handler", "_limits", "_max_header", "_max_body", "_proxy", "_transport", "_parser", "_peer",
                 "_url", "_headers", "_header_bytes", "_body", "_body_size", "_reject", "_queue",
                 "_task", "_idle", "_busy", "_closing", "_writable", "_paused_reading", "_loop")

    def __init__(self, handler: Handler, limits: ServerLimits, proxy_name: bytes):
        self._handler = handler
        self._limits = limits
        self._max_header = limits.max_header_bytes
        self._max_body = limits.max_body_bytes
        self._proxy = proxy_name
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[Request] = deque()
        self._task: asyncio.Task | None = None   # the connection's serve loop, started by its first request
        self._idle: asyncio.Future | None = None  # set while the serve loop waits for the next request
        self._busy = False                        # a request is being answered
        self._closing = False
        self._writable: asyncio.Event | None = None
        self._paused_reading = False
        self._reject: Response | None = None
        self._peer = ""
        self._loop = asyncio.get_running_loop()
        self._next_message()

    # --- connection events -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if peer else ""

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
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

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(_error(501, "bad-request", "protocol upgrades are not supported by this proxy", self._proxy))
        except httptools.HttpParserError as exc:
            self._fail(_error(400, "bad-request", f"malformed HTTP request: {exc}", self._proxy))
            return
        if self._reject is not None:
            self._fail(self._reject)

    # --- parser callbacks --------------------------------------------------------
    def _next_message(self) -> None:
        """Fresh per-message state (called at the start and after each message, which saves
        the parser an on_message_begin callback per request)."""
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        self._headers.append((name, value))
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > self._max_header and self._reject is None:
            self._reject = _error(431, "bad-request", f"request headers exceed {self._max_header} bytes", self._proxy)
        elif name == b"content-length" and value.isdigit() and int(value) > self._max_body and self._reject is None:
            self._reject = _error(413, "payload-too-large",
                                  f"request body of {int(value)} bytes exceeds the limit of {self._max_body} bytes",
                                  self._proxy)

    def on_headers_complete(self) -> None:
        # RFC 9110 §10.1.1: the proxy reads the whole body before it calls upstream, so it
        # answers the expectation itself (Envoy's default) and does not pass it on; a
        # request it refuses gets its final answer instead, which is the point of asking.
        headers = self._headers
        for i, (n, v) in enumerate(headers):
            if n == b"expect":
                del headers[i]
                if v.lower() == b"100-continue" and self._reject is None and self._parser.get_http_version() == "1.1" \
                        and not self._busy and not self._queue:   # never ahead of an earlier pipelined answer
                    self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                break

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._max_body:
            if self._reject is None:
                self._reject = _error(413, "payload-too-large",
                                      f"request body exceeds the limit of {self._max_body} bytes", self._proxy)
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._reject is not None:
            return
        body = self._body
        req = Request(self._parser.get_method(), self._url, self._headers,
                      body[0] if len(body) == 1 else b"".join(body), self._parser.should_keep_alive(), self._peer)
        self._next_message()
        queue = self._queue
        queue.append(req)
        if len(queue) >= self._limits.max_pipelined and not self._paused_reading:
            self._paused_reading = True
            self._transport.pause_reading()
        if self._task is None:
            self._task = self._loop.create_task(self._serve())
        elif self._idle is not None:
            self._idle.set_result(None)
            self._idle = None

    # --- answering ---------------------------------------------------------------
    def _fail(self, response: Response) -> None:
        """Answer a request we refuse to parse further, then close."""
        if self._closing or self._transport is None:
            return
        self._closing = True
        self._queue.clear()
        if not self._busy:  # nothing in flight: answer now
            self._write_whole(b"GET", response, keep_alive=False)
            self._transport.close()
        # else: the in-flight response is finished first; _serve closes afterwards

    async def _serve(self) -> None:
        """The connection's one task: answers queued requests in order, then waits for
        the next one (a future, cheaper than a task per request); ends when the
        connection does (connection_lost cancels it)."""
        queue = self._queue
        try:
            while True:
                while queue:
                    req = queue.popleft()
                    if self._paused_reading and len(queue) < self._limits.max_pipelined // 2:
                        self._paused_reading = False
                        self._transport.resume_reading()
                    self._busy = True
                    try:
                        resp = await self._handler(req)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("handler failed for %s %s", req.method, req.target)
                        resp = _error(500, "internal-error", "the proxy failed while handling this request; see its log", self._proxy)
                    keep_alive = req.keep_alive and not self._closing
                    if resp.stream is None:
                        self._write_whole(req.method, resp, keep_alive)
                    else:
                        keep_alive = await self._write_stream(req.method, resp, keep_alive)
                    self._busy = False
                    if not keep_alive:
                        self._transport.close()
                        return
                if self._closing:
                    self._transport.close()
                    return
                self._idle = self._loop.create_future()
                await self._idle
        except asyncio.CancelledError:
            pass
        finally:
            self._busy = False
            self._idle = None

    def _write_whole(self, method: bytes, resp: Response, keep_alive: bool) -> None:
        length, with_body = framing(method, resp)
        parts = [_STATUS_LINES.get(resp.status) or status_line(resp.status)]
        for n, v in resp.headers:
            parts.append(n + b": " + v + b"\r\n")
        parts.append(length if keep_alive else length + b"connection: close\r\n")
        parts.append(b"\r\n")
        if with_body:
            parts.append(resp.body)
        self._transport.write(b"".join(parts))

    async def _write_stream(self, method: bytes, resp: Response, keep_alive: bool) -> bool:
        """Send a streamed body; returns whether the connection can be kept."""
        status = resp.status
        has_body = method != b"HEAD" and status >= 200 and status not in (204, 304)
        chunked = resp.content_length is None
        parts = [status_line(status)]
        for n, v in resp.headers:
            parts.append(n + b": " + v + b"\r\n")
        if chunked:
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            parts.append(b"content-length: %d\r\n" % resp.content_length)
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        self._transport.write(b"".join(parts))
        sent = 0
        try:
            async for chunk in resp.stream:
                if not has_body or not chunk:
                    continue
                sent += len(chunk)
                self._transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                if self._writable is not None and not self._writable.is_set():
                    await self._writable.wait()
                if self._closing:
                    return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The upstream broke mid-body: the only honest thing left is to cut the
            # downstream connection too, so the client sees a truncated message.
            log.info("upstream body broke after %d bytes: %s", sent, exc)
            return False
        if has_body and chunked:
            self._transport.write(b"0\r\n\r\n")
        elif has_body and sent != resp.content_length:
            return False
        return keep_alive


async def serve(handler: Handler, host: str, port: int, *, limits: ServerLimits | None = None,
                proxy_name: str = "gatemesh", reuse_port: bool = False) -> asyncio.base_events.Server:
    """Start listening; returns the asyncio Server (close() + wait_closed() to stop)."""
    loop = asyncio.get_running_loop()
    lim = limits or ServerLimits()
    name = proxy_name.encode()
    return await loop.create_server(lambda: HttpServerProtocol(handler, lim, name), host, port,
                                    reuse_port=reuse_port, backlog=1024)
