"""The event timeline: why traffic moved, one line per breaker transition, ejection,
retry refusal and discovery change.

Kept in a bounded ring per proxy and served at `/-/events?since=SEQ`, so
`gatemesh events --follow` can poll every proxy and merge the lines by time.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import asdict, dataclass

from .tracing import event as span_event

log = logging.getLogger("gatemesh.events")


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    at: float  # wall-clock seconds (time.time): merged across processes by it
    proxy: str
    kind: str  # breaker-open, breaker-half-open, breaker-closed, ejected, returned, ejection-capped, panic-entered, panic-exited, retry-budget-exhausted, endpoints-changed, policy-changed, control-plane-lost, control-plane-back
    upstream: str
    instance: str
    cause: str


class EventLog:
    def __init__(self, proxy: str, capacity: int = 2000):
        self.proxy = proxy
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = 0

    def emit(self, kind: str, upstream: str = "", instance: str = "", cause: str = "") -> Event:
        self._seq += 1
        ev = Event(self._seq, time.time(), self.proxy, kind, upstream, instance, cause)
        self._events.append(ev)
        log.info("%s %s upstream=%s instance=%s: %s", self.proxy, kind, upstream, instance, cause)
        span_event(kind, upstream, instance, cause)  # on the request's span when one is traced
        return ev

    def since(self, seq: int = 0) -> list[dict]:
        return [asdict(e) for e in self._events if e.seq > seq]

    @property
    def last_seq(self) -> int:
        return self._seq
