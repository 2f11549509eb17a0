"""Circuit breaker (Resilience4j's shape): explicit states, one transition function.

    CLOSED ──(k consecutive failures, or failure rate ≥ threshold over the last
              window_size calls once minimum_calls were seen)──────────────► OPEN
    OPEN ──(open_s elapsed; noticed on the next state read / try_acquire)──► HALF_OPEN
    HALF_OPEN ──(half_open_max_probes successes)──► CLOSED
    HALF_OPEN ──(any probe failure)──► OPEN   (for open_s again)

A call is admitted by ``try_acquire()`` and must then report exactly one of
``on_success`` / ``on_failure`` / ``on_ignored``. A call slower than ``slow_call_s``
counts as a failure even when it succeeded. Results that arrive while OPEN (calls
admitted before it opened) are ignored; one that arrives while HALF_OPEN counts as a probe
result (``try_acquire`` hands out no token to tell them apart). Every transition calls ``on_transition`` with a
``Transition`` whose ``cause`` is a sentence fit for a log line.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gatemesh.clock import Clock
from gatemesh.patterns.validate import check_bool, check_int, check_number


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    enabled: bool = True  # on: fail fast instead of queueing on a dead dependency
    consecutive_failures: int = 5  # 0 = off; same count as Envoy's consecutive_5xx, trips on a hard-down host quickly
    failure_rate_threshold: float = 0.5  # Resilience4j's and Hystrix's 50%
    window_size: int = 20  # count-based sliding window; smaller than Resilience4j's 100 so demos trip in seconds
    minimum_calls: int = (
        10  # calls needed before the rate counts (Resilience4j: minimumNumberOfCalls); capped at window_size
    )
    slow_call_s: float | None = (
        None  # off; when set, slower calls count as failures (Resilience4j slowCallDurationThreshold)
    )
    open_s: float = 5.0  # wait before half-open: Hystrix's 5 s sleep window (Resilience4j waits 60 s)
    half_open_max_probes: int = (
        3  # probes in flight and successes needed to close; between Hystrix's 1 and Resilience4j's 10
    )

    def __post_init__(self) -> None:
        check_bool("breaker.enabled", self.enabled)
        check_int("breaker.consecutive_failures", self.consecutive_failures, 0, 1_000_000, "of failures")
        object.__setattr__(
            self,
            "failure_rate_threshold",
            check_number("breaker.failure_rate_threshold", self.failure_rate_threshold, 0, 1, lo_open=True),
        )
        check_int("breaker.window_size", self.window_size, 1, 10_000, "of calls")
        check_int("breaker.minimum_calls", self.minimum_calls, 1, 10_000, "of calls")
        if self.slow_call_s is not None:
            object.__setattr__(
                self,
                "slow_call_s",
                check_number("breaker.slow_call_s", self.slow_call_s, 0, 3600, lo_open=True, what="seconds"),
            )
        object.__setattr__(
            self, "open_s", check_number("breaker.open_s", self.open_s, 0, 3600, lo_open=True, what="seconds")
        )
        check_int("breaker.half_open_max_probes", self.half_open_max_probes, 1, 1000, "of probes")


@dataclass(frozen=True, slots=True)
class Transition:
    name: str  # the breaker's name (e.g. "catalog" or "catalog@catalog-1")
    from_state: BreakerState
    to_state: BreakerState
    cause: str  # a sentence saying why
    at: float  # clock time of the transition


class CircuitBreaker:
    __slots__ = (
        "name",
        "_config",
        "_clock",
        "_on_transition",
        "_state",
        "_opened_at",
        "_consecutive",
        "_ring",
        "_ring_pos",
        "_ring_filled",
        "_ring_failures",
        "_probes",
        "_probe_successes",
        "rejected",
    )

    def __init__(
        self, name: str, config: BreakerConfig, clock: Clock, on_transition: Callable[[Transition], None] | None = None
    ) -> None:
        self.name = name
        self._config = config
        self._clock = clock
        self._on_transition = on_transition
        self._state = CLOSED
        self._opened_at = 0.0
        self._probes = 0  # half-open probes in flight
        self._probe_successes = 0
        self.rejected = 0  # calls refused since creation, for metrics
        self._reset_window()

    # --- reading ---

    @property
    def config(self) -> BreakerConfig:
        return self._config

    @property
    def state(self) -> BreakerState:
        if self._state is OPEN and self._clock.monotonic() - self._opened_at >= self._config.open_s:
            self._to_half_open()
        return self._state

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        return {
            "name": self.name,
            "state": state.value,
            "enabled": self._config.enabled,
            "consecutive_failures": self._consecutive,
            "window_calls": self._ring_filled,
            "window_failures": self._ring_failures,
            "half_open_probes_in_flight": self._probes,
            "half_open_successes": self._probe_successes,
            "rejected": self.rejected,
        }

    # --- the call protocol ---

    def try_acquire(self) -> bool:
        """May a call go out? False: reject fast (open, or no half-open probe slot left)."""
        state = self._state
        if state is CLOSED or not self._config.enabled:
            return True
        if state is OPEN:
            if self._clock.monotonic() - self._opened_at < self._config.open_s:
                self.rejected += 1
                return False
            self._to_half_open()
        if self._probes < self._config.half_open_max_probes:
            self._probes += 1
            return True
        self.rejected += 1
        return False

    def on_success(self, duration_s: float) -> None:
        config = self._config
        if not config.enabled:
            return
        slow = config.slow_call_s
        if slow is not None and duration_s > slow:
            self._failed(f"A call took {duration_s:.3f} s, slower than slow_call_s={slow:g} s")
            return
        state = self._state
        if state is CLOSED:
            self._consecutive = 0
            # A full window of successes stays one: recording one more would only move the
            # ring's position, which no count depends on (the everyday case, skipped).
            if self._ring_failures or self._ring_filled != len(self._ring):
                self._record(0)
        elif state is HALF_OPEN:
            if self._probes > 0:
                self._probes -= 1
            self._probe_successes += 1
            if self._probe_successes >= config.half_open_max_probes:
                self._transition(CLOSED, f"{self._probe_successes} half-open probes succeeded")
        # OPEN: a call admitted before the breaker opened; its verdict no longer matters.

    def on_failure(self, duration_s: float) -> None:
        if self._config.enabled:
            self._failed("A call failed")

    def on_ignored(self) -> None:
        """The call ended without a verdict (cancelled, client went away): free its probe slot."""
        if self._state is HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def reconfigure(self, config: BreakerConfig) -> None:
        """Live policy change: the state is kept; a new window size restarts the window."""
        old = self._config
        self._config = config
        if config.window_size != old.window_size:
            self._reset_window()

    # --- internals ---

    def _reset_window(self) -> None:
        self._consecutive = 0
        self._ring = bytearray(self._config.window_size)  # 1 = failure, 0 = success
        self._ring_pos = 0
        self._ring_filled = 0
        self._ring_failures = 0

    def _record(self, failed: int) -> None:
        ring = self._ring
        pos = self._ring_pos
        if self._ring_filled == len(ring):
            self._ring_failures -= ring[pos]
        else:
            self._ring_filled += 1
        ring[pos] = failed
        self._ring_failures += failed
        pos += 1
        self._ring_pos = 0 if pos == len(ring) else pos

    def _failed(self, what: str) -> None:
        state = self._state
        config = self._config
        if state is CLOSED:
            self._consecutive += 1
            self._record(1)
            limit = config.consecutive_failures
            if limit and self._consecutive >= limit:
                self._transition(
                    OPEN, f"{what}: {self._consecutive} consecutive failures reached consecutive_failures={limit}"
                )
                return
            calls = self._ring_filled
            needed = config.minimum_calls if config.minimum_calls < config.window_size else config.window_size
            if calls >= needed:
                rate = self._ring_failures / calls
                if rate >= config.failure_rate_threshold:
                    self._transition(
                        OPEN,
                        f"{what}: {self._ring_failures} of the last {calls} calls failed "
                        f"({rate:.0%}), at or above failure_rate_threshold="
                        f"{config.failure_rate_threshold:.0%}",
                    )
        elif state is HALF_OPEN:
            self._transition(OPEN, f"{what} while half-open: a probe failed, open again for {config.open_s:g} s")

    def _to_half_open(self) -> None:
        self._transition(
            HALF_OPEN, f"Open for {self._config.open_s:g} s; allowing up to {self._config.half_open_max_probes} probes"
        )

    def _transition(self, to: BreakerState, cause: str) -> None:
        """The one place the state changes; resets what the new state starts from and emits."""
        now = self._clock.monotonic()
        old = self._state
        self._state = to
        self._probes = 0
        self._probe_successes = 0
        if to is OPEN:
            self._opened_at = now
        elif to is CLOSED:
            self._reset_window()
        if self._on_transition is not None:
            self._on_transition(Transition(self.name, old, to, cause + ".", now))
