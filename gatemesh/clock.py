"""Time, injected: every pattern reads a ``Clock`` instead of the ``time`` module.

``SystemClock`` is the real thing (``time.monotonic`` / ``asyncio.sleep``). ``FakeClock``
is virtual time for tests: nothing moves until a test calls ``advance`` or something
awaits ``sleep``, which jumps time forward at once and records the sleep.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a monotonic clock (only differences are meaningful)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (the fake clock only advances its time)."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    __slots__ = ()

    # Bound straight to the C function: calling clock.monotonic() costs one call.
    monotonic = staticmethod(time.monotonic)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """Virtual time for tests.

    ``sleep`` advances the time immediately (yielding to the event loop once, so other
    tasks get a turn) and appends the requested duration to ``sleeps``.
    """

    __slots__ = ("_now", "sleeps")

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"FakeClock.advance needs a non-negative number of seconds, got {seconds!r}.")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self._now += seconds
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"
