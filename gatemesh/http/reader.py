"""A server connection's llhttp callbacks: one request message gathered from the
parser's events and checked against the listener's limits as it arrives.

Each limit is checked where its bytes arrive (the target in `on_url`, each header in
`on_header`, the declared and the received body), and a refusal raised from a callback
makes llhttp return at once, so nothing past a limit is buffered. `on_headers_complete`
passes the everyday head on a few comparisons and sends any other through every rule in
head.py. A complete message is queued for the connection's answer loop (answer.py).

The connection side (events, reads, answering, refusals) is server.py's
`HttpServerProtocol`, which is this class with those added.
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

from ..reasons import Reason
from .answer import answer_loop
from .head import VALID_HOSTS, HeadRefused, vet
from .listener import BODY, HEAD, IDLE, Listener
from .messages import Headers, Request, Response

_SPECIAL = frozenset({b"content-length", b"host", b"transfer-encoding", b"expect", b"connection", b"upgrade"})


class RequestReader(asyncio.Protocol):
    __slots__ = (
        "_l",
        "_transport",
        "_parser",
        "_peer",
        "_identity",
        "_local",
        "_url",
        "_headers",
        "_header_bytes",
        "_body",
        "_body_size",
        "_hosts",
        "_host",
        "_te",
        "_expect",
        "_odd",
        "_keep_alive",
        "_cl",
        "_reject",
        "_final",
        "_queue",
        "_task",
        "_idle",
        "_busy",
        "_closing",
        "_deaf",
        "_writable",
        "_paused_reading",
        "_loop",
        "_pending",
        "_last",
        "state",
        "since",
        "_max_line",
        "_max_hline",
        "_max_head",
        "_max_body",
        "_max_pipelined",
        "in_handler",
        "_timed_out",
    )

    def __init__(self, listener: Listener):
        self._l = listener
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[Request] = deque()
        self._task: asyncio.Task[None] | None = None  # the connection's serve loop, started by its first request
        self._idle: asyncio.Future[None] | None = None  # set while the serve loop waits for the next request
        self._busy = False  # a request is being answered
        self._closing = False
        self._deaf = False  # read no more (closing, or a final refusal is queued)
        self.in_handler = False  # a handler is computing an answer (the sweeper times it)
        self._timed_out = False  # ... and the sweeper cancelled it
        lim = listener.limits  # copied: read on every header, attribute by attribute
        self._max_line, self._max_hline = lim.max_request_line_bytes, lim.max_header_line_bytes
        self._max_head, self._max_body = lim.max_header_bytes, lim.max_body_bytes
        self._max_pipelined = lim.max_pipelined
        self._writable: asyncio.Event | None = None
        self._paused_reading = False
        self._reject: HeadRefused | None = None  # this message is refused (set by a parser callback)
        self._final: Response | None = None  # the answer to send once queued requests are answered, then close
        self._pending: bytearray | None = None  # an unfinished head, gathered until its end arrives
        self._host = b""  # this message's Host (valid while _hosts == 1)
        self._te: bytes | None = None  # its Transfer-Encoding, when _odd
        self._expect = False  # it asked for 100-continue, when _odd
        self._keep_alive = True
        self._last = b""  # the last bytes fed: an unfinished head may straddle them
        self._peer = ""  # the client's address, for X-Forwarded-For
        self._identity: str | None = None  # the client certificate's SPIFFE id, on an mTLS connection
        self._local = b""  # this listener's host:port, a 1.0 request's Host
        self._loop = asyncio.get_running_loop()
        self.state = HEAD  # the listener's sweeper times each state
        self.since = listener.tick
        self._next_message()

    def _fail(self, response: Response) -> None:
        raise NotImplementedError  # the connection's (server.py)

    # --- parser callbacks --------------------------------------------------------
    def _next_message(self) -> None:
        """Fresh per-message state (at the start; on_message_complete repeats it inline,
        which also saves the parser an on_message_begin callback per request)."""
        self._url = b""
        self._headers: Headers = []
        self._header_bytes = 0
        self._body: list[bytes] | None = None  # made by the first piece of body: most requests have none
        self._body_size = 0
        self._hosts = 0
        self._cl = b""  # its Content-Length as sent ("" for none)
        self._odd = False  # a header that sends the head down the slow path: its values are set then

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_line:
            self._refuse(Reason.URI_TOO_LONG, f"the request target exceeds {self._max_line} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        size = len(name) + len(value)
        self._header_bytes += size
        if size > self._max_hline or self._header_bytes > self._max_head:
            self._refuse(
                Reason.HEADERS_TOO_LARGE,
                f"a header line exceeds {self._max_hline} bytes"
                if size > self._max_hline
                else f"request headers exceed {self._max_head} bytes",
            )
        if name in _SPECIAL:
            # Framing and Expect belong to this hop: the handler gets the body whole, and
            # the client frames it anew (so a framing header is never passed on as sent).
            if name == b"host":
                self._hosts += 1
                self._host = value
            elif name == b"content-length":
                self._cl = value
                if value.isdigit() and int(value) > self._max_body:
                    self._refuse(
                        Reason.PAYLOAD_TOO_LARGE,
                        f"request body of {int(value)} bytes exceeds the limit of {self._max_body} bytes",
                    )
                return
            else:
                if not self._odd:
                    self._odd, self._te, self._expect = True, None, False
                if name == b"transfer-encoding":
                    self._te = value if self._te is None else self._te + b", " + value
                    return
                if name == b"expect":  # answered here (on_headers_complete), never passed on
                    self._expect = self._expect or value.lower() == b"100-continue"
                    return
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        p = self._parser
        # The everyday head (HTTP/1.1 keep-alive, one valid Host, a path, no Connection,
        # Upgrade, Transfer-Encoding or Expect) passes on a few comparisons: llhttp keeps a
        # message alive without a Connection header only in 1.1. Anything else goes
        # through every rule (head.vet), which may refuse it or normalise target and Host.
        if (
            self._hosts == 1
            and not self._odd
            and self._url[:1] == b"/"
            and self._host in VALID_HOSTS
            and p.should_keep_alive()
        ):
            self._keep_alive = True
        else:
            version = p.get_http_version()
            try:
                self._url = vet(
                    version,
                    p.get_method(),
                    p.should_upgrade(),
                    self._te if self._odd else None,
                    self._url,
                    self._headers,
                    self._hosts,
                    self._local,
                )
            except HeadRefused as refused:
                self._reject = refused
                raise
            self._keep_alive = p.should_keep_alive()
            # RFC 9110 §10.1.1: the proxy reads the whole body before it calls upstream, so
            # it answers the expectation itself (Envoy's default); never ahead of an earlier
            # pipelined answer (the client then sends its body after its own short wait).
            # Only a request with a body to come is answered so (a GET asking is a client's bug).
            if (
                self._odd
                and self._expect
                and version == "1.1"
                and (self._te is not None or self._cl not in (b"", b"0"))
                and not self._busy
                and not self._queue
                and self._transport is not None
            ):
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.state = BODY  # its clock: the head's start, then each piece of body (on_body)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        self.since = self._l.tick
        if self._body_size > self._max_body:
            self._refuse(Reason.PAYLOAD_TOO_LARGE, f"request body exceeds the limit of {self._max_body} bytes")
        if self._body is None:
            self._body = [body]
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method()
        if method == b"CONNECT":  # llhttp takes "CONNECT /x" for a plain head: never queue it
            self._refuse(Reason.CONNECT_NOT_SUPPORTED, "CONNECT is not supported: this proxy opens no tunnels")
        body = self._body
        req = Request(
            method,
            self._url,
            self._headers,
            b"" if body is None else body[0] if len(body) == 1 else b"".join(body),
            self._keep_alive,
            self._peer,
        )
        if self._identity is not None:
            req.identity = self._identity
        # Fresh per-message state, inline (a method call per request costs ~1,000
        # instructions; this also saves the parser an on_message_begin callback).
        self._url = self._cl = b""
        self._headers = []
        self._header_bytes = self._body_size = self._hosts = 0
        self._body = None
        self._odd = False
        self.state = IDLE  # its clock starts when the answer is out (_serve)
        queue = self._queue
        queue.append(req)
        if len(queue) >= self._max_pipelined and not self._paused_reading and self._transport is not None:
            self._paused_reading = True
            self._transport.pause_reading()
        if self._task is None:
            self._task = self._loop.create_task(answer_loop(self))  # type: ignore[arg-type]  # always a server's
        elif self._idle is not None:
            self._idle.set_result(None)
            self._idle = None

    def _refuse(self, reason: Reason, message: str) -> None:
        """Stop parsing this message: raising from a callback makes llhttp return at once."""
        self._reject = HeadRefused(reason, message)
        raise self._reject
