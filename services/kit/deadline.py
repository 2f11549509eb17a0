"""The request deadline an app receives and passes on.

A proxy that forwards a request may add ``X-Gatemesh-Deadline-Ms``: how many ms the
caller will still wait. An app that calls other services copies the *remaining*
value onto those calls and never waits past it. The header is read once, when the
request arrives, and turned into an absolute time on this process's monotonic clock.
A missing or malformed header means "no deadline" (the app's own timeouts apply).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEADLINE_HEADER = "X-Gatemesh-Deadline-Ms"

Clock = Callable[[], float]  # seconds, monotonic


@dataclass(frozen=True)
class Deadline:
    expires_at_s: float  # on `clock`'s scale
    clock: Clock = field(default=time.monotonic, repr=False, compare=False)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], clock: Clock = time.monotonic) -> Deadline | None:
        raw = headers.get(DEADLINE_HEADER)
        if raw is None:
            return None
        try:
            ms = float(raw.strip())
        except ValueError:
            return None
        if not math.isfinite(ms) or ms < 0:
            return None
        return cls(clock() + ms / 1000.0, clock)

    def remaining_s(self) -> float:
        return max(0.0, self.expires_at_s - self.clock())

    def expired(self) -> bool:
        """True once less than a millisecond is left (the header cannot say less)."""
        return self.remaining_s() < 0.001

    def header_value(self) -> str:
        """The remaining time in whole ms, rounded down (never promise time we lack)."""
        return str(int(self.remaining_s() * 1000))
