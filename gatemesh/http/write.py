"""Writing an answer: its framing, a whole body in one write, or a stream as it arrives.

Framing is the server's job, never the handler's: Content-Length for a whole body,
Content-Length or chunked for a stream (a close-delimited upstream answer included, so
it ends with a proper `0\\r\\n\\r\\n`), and nothing after the head of a HEAD, 1xx, 204
or 304 answer. A stream that breaks cuts the connection, so the client sees a truncated
message, never a short one that looks complete; a stream the client abandons is closed
at once, which cuts its upstream connection too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from ..reasons import Reason, status_of
from .messages import LENGTH_LINES, PAIR, STATUS_TEXT, Response, json_response, status_text

if TYPE_CHECKING:
    from .server import HttpServerProtocol

log = logging.getLogger("gatemesh.http")


class _Writer(Protocol):
    def write(self, data: bytes) -> None: ...


def error_response(reason: Reason, message: str, proxy: bytes, status: int | None = None) -> Response:
    """The proxy's own answer: the reason's status, the reason in a header and the JSON body."""
    return json_response(
        status or status_of(reason),
        {"error": message, "reason": str(reason)},
        [(b"x-gatemesh-reason", reason.encode()), (b"x-gatemesh-proxy", proxy)],
    )


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
        declared = resp.content_length
        return (b"" if declared is None else b"content-length: %d\r\n" % declared), False
    return b"content-length: %d\r\n" % len(resp.body), True


def write_whole(transport: _Writer, method: bytes, resp: Response, keep_alive: bool) -> None:
    """The head and a whole body in one write: one CRLF-join of its lines (see `PAIR`)."""
    status = resp.status
    text = STATUS_TEXT.get(status) or status_text(status)
    if status >= 200 and status != 204 and status != 304 and method != b"HEAD":  # `framing`'s everyday case, inline
        body = resp.body
        n = len(body)
        length = LENGTH_LINES[n] if n < 1024 else b"content-length: %d" % n  # a table below 1 KiB (messages.py)
        if keep_alive:
            transport.write(b"\r\n".join([text, *map(PAIR, resp.headers), length, b"", body]))
        else:
            transport.write(b"\r\n".join([text, *map(PAIR, resp.headers), length, b"connection: close", b"", body]))
        return
    length, with_body = framing(method, resp)
    lines = [text, *map(PAIR, resp.headers)]
    if length:
        lines.append(length[:-2])
    if not keep_alive:
        lines.append(b"connection: close")
    lines.append(b"")
    lines.append(resp.body if with_body else b"")
    transport.write(b"\r\n".join(lines))


async def write_stream(
    conn: HttpServerProtocol, transport: _Writer, method: bytes, resp: Response, keep_alive: bool
) -> bool:
    """Send a streamed body; returns whether the connection can be kept."""
    status = resp.status
    has_body = method != b"HEAD" and status >= 200 and status not in (204, 304)
    chunked = resp.content_length is None
    lines = [status_text(status), *map(PAIR, resp.headers)]
    lines.append(b"transfer-encoding: chunked" if chunked else b"content-length: %d" % resp.content_length)  # type: ignore[str-format]
    if not keep_alive:
        lines.append(b"connection: close")
    lines.append(b"")
    lines.append(b"")
    transport.write(b"\r\n".join(lines))
    stream = resp.stream
    assert stream is not None
    sent = 0
    finished = False
    idle_s = conn._l.limits.body_idle_timeout_s
    try:
        async for chunk in stream:
            if not has_body or not chunk:
                continue
            sent += len(chunk)
            transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            writable = conn.writable()
            if writable is not None and not writable.is_set():
                try:  # a client that stops reading is cut like one that stops sending
                    async with asyncio.timeout(idle_s):
                        await writable.wait()
                except TimeoutError:
                    log.info("client read nothing of a streamed answer for %g s", idle_s)
                    return False
            if conn.closing():
                return False
        finished = True
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The upstream broke mid-body: the only honest thing left is to cut the
        # downstream connection too, so the client sees a truncated message.
        log.info("upstream body broke after %d bytes: %s", sent, exc)
        return False
    finally:
        if not finished:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:  # an abandoned stream: cut its upstream connection now
                await aclose()
    if has_body and chunked:
        transport.write(b"0\r\n\r\n")
    elif has_body and sent != resp.content_length:
        return False
    return keep_alive
