"""One listening socket: its connection caps and the one timer that enforces every wait.

Two caps, checked once per connection (never per request): the listener's
`max_connections`, and, when set, `max_connections_per_client` per client address, so
that one address cannot take the whole listener (off by default: see limits.py).

Timing each connection's waits with its own timer would arm and cancel a timer several
times per request; a sweeper instead ticks every `tick_s`, and each connection notes the
tick at which it entered its current state (an attribute write). At each tick the
sweeper walks the open connections and closes those waiting past their state's limit:
the head past `header_timeout_s` (408), a body stalled past `body_idle_timeout_s` (408),
a keep-alive connection idle past `keepalive_timeout_s` (closed without a word, as nginx
does). A connection whose request is being answered is the handler's business and the
upstream timeouts', never the sweeper's. 1,000 connections cost the sweeper well under a
millisecond per tick. The same clock bounds a handler: no answer head within
`answer_timeout_s` → its task is cancelled (the upstream call with it) and 504 timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..reasons import Reason
from .limits import ServerLimits
from .messages import Request, Response

if TYPE_CHECKING:
    from .server import HttpServerProtocol

Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger("gatemesh.http")

# Connection states (ints: compared on every read).
HEAD, BODY, IDLE = 0, 1, 2


class Listener:
    __slots__ = ("handler", "limits", "proxy", "conns", "tick", "_timer", "_loop", "_per_client")

    def __init__(self, handler: Handler, limits: ServerLimits, proxy: bytes, loop: asyncio.AbstractEventLoop):
        self.handler = handler
        self.limits = limits
        self.proxy = proxy
        self.conns: set[HttpServerProtocol] = set()
        self.tick = 0
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._per_client: dict[str, int] = {}  # open connections by client address, while that cap is set

    def opened(self, conn: HttpServerProtocol) -> Reason | None:
        """Admit a new connection (its `_peer` known); the cap it meets, or None."""
        if len(self.conns) >= self.limits.max_connections:
            return Reason.TOO_MANY_CONNECTIONS
        per_client = self.limits.max_connections_per_client
        if per_client:
            held = self._per_client.get(conn._peer, 0)
            if held >= per_client:
                return Reason.TOO_MANY_CLIENT_CONNECTIONS
            self._per_client[conn._peer] = held + 1
        self.conns.add(conn)
        if self._timer is None:
            self._timer = self._loop.call_later(self.limits.tick_s, self._sweep)
        return None

    def closed(self, conn: HttpServerProtocol) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            if self.limits.max_connections_per_client:
                left = self._per_client.get(conn._peer, 1) - 1
                if left > 0:
                    self._per_client[conn._peer] = left
                else:
                    self._per_client.pop(conn._peer, None)

    def _sweep(self) -> None:
        self.tick += 1
        lim = self.limits
        tick_s = lim.tick_s
        # A state entered at tick t has lasted at least (now - t - 1) ticks.
        head_ticks = lim.header_timeout_s / tick_s + 1
        body_ticks = lim.body_idle_timeout_s / tick_s + 1
        idle_ticks = lim.keepalive_timeout_s / tick_s + 1
        answer_ticks = lim.answer_timeout_s / tick_s + 1
        now = self.tick
        try:
            for conn in list(self.conns):
                try:
                    if conn.busy():
                        if conn.in_handler and now - conn.since > answer_ticks:
                            conn.answer_timed_out()
                        continue
                    waited = now - conn.since
                    state = conn.state
                    if state == HEAD and waited > head_ticks:
                        conn.time_out(
                            "request-timeout", f"the request head did not arrive within {lim.header_timeout_s:g} s"
                        )
                    elif state == BODY and waited > body_ticks:
                        conn.time_out(
                            "request-timeout", f"the request body paused for more than {lim.body_idle_timeout_s:g} s"
                        )
                    elif state == IDLE and waited > idle_ticks:
                        conn.time_out(None, "keep-alive idle")
                except Exception:  # one connection's trouble must never stop the clock of all the others
                    log.exception("listener sweep: a connection's timeout failed; closing it")
                    self.closed(conn)
                    conn.abort()
        finally:
            self._timer = self._loop.call_later(tick_s, self._sweep) if self.conns else None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
