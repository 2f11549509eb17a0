"""One loop timer for every pooled exchange's wait on its response head.

An attempt timeout is a wait on the upstream's head. Arming a timer per request and
cancelling it when the head arrives cost ~3,000 instructions a request (uvloop's
`call_later` makes a TimerHandle and a libuv timer, and the cancel undoes both), about
1.5% of a gateway hop. Instead each waiting connection notes its deadline, and one
timer per pool is armed for the earliest of them:

- a new wait whose deadline is not earlier than the armed one (the everyday case: one
  policy, so later requests end later) only joins the set — a `loop.time()` and a set add;
- a head that arrives leaves the set (`unwatch`, the set's own `discard`) — no timer to cancel;
- when the timer fires, the waits past their deadline fail with `TimeoutError` (their
  connections closed, never reused) and the timer is armed again for the earliest left.

The deadline is exact (the timer fires at the earliest one, not on a coarse tick), so a
timeout means what the policy says. With a steady stream of answered requests the
timer fires about once per timeout period and finds nothing to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from math import inf
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import UpstreamConnection


class HeadDeadlines:
    __slots__ = ("_waiting", "_timer", "_timer_at", "unwatch")

    def __init__(self) -> None:
        self._waiting: set[UpstreamConnection] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = inf  # when the armed timer fires (inf: none armed)
        # `unwatch(conn)`: `conn`'s head is in (or it closed). The set's own `discard`, bound
        # once: a C call on every answered request instead of a Python-level one (~1k instructions).
        self.unwatch: Callable[[UpstreamConnection], None] = self._waiting.discard

    def __len__(self) -> int:
        return len(self._waiting)

    def watch(self, conn: UpstreamConnection, at: float, loop: asyncio.AbstractEventLoop) -> None:
        """`conn` waits for its head until loop time `at`."""
        self._waiting.add(conn)
        if at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = loop.call_at(at, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        self._timer, self._timer_at = None, inf
        earliest = inf
        for conn in list(self._waiting):
            at = conn.head_deadline
            if at <= now:
                self._waiting.discard(conn)
                fut = conn.headers_future
                if fut is not None:
                    conn.time_out(fut, conn.head_timeout_s)
            elif at < earliest:
                earliest = at
        if earliest < inf:
            # A timer may fire a little before its time (libuv counts milliseconds): the
            # wait it was armed for is then still here, and it is armed again.
            self._timer_at = earliest
            self._timer = loop.call_at(earliest, self._expire, loop)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, inf
        self._waiting.clear()
