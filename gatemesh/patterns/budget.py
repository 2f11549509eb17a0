"""Retry budget (Linkerd / Finagle style): retries may add at most ``ratio`` x the recent
requests, plus a floor of ``min_retries_per_s`` so a quiet service can still retry.

Over the last ``window_s`` seconds, a retry is allowed while

    retries_in_window < ratio * requests_in_window + min_retries_per_s * window_s

Counts live in ``BUCKETS`` time buckets over the window (a ring of counters), so each call
is O(1) and memory is fixed; a bucket's counts leave the window all at once, which makes
the window up to one bucket (``window_s / BUCKETS``) longer than ``window_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatemesh.clock import Clock
from gatemesh.patterns.validate import check_bool, check_number

BUCKETS = 10  # as Hystrix's 10 buckets per rolling window: 1 s granularity at the default 10 s
_EPS = 1e-9  # float slack so that e.g. 0.1 * 30 requests allows exactly 3 retries


@dataclass(frozen=True, slots=True)
class RetryBudgetConfig:
    enabled: bool = True  # on: retries without a budget turn a brown-out into a retry storm
    ratio: float = 0.2  # Linkerd's retryRatio default: retries add at most 20% load
    min_retries_per_s: float = 10.0  # Linkerd's minRetriesPerSecond default: low-traffic services can still retry
    window_s: float = 10.0  # Linkerd's ttl default: how long a request counts towards the budget

    def __post_init__(self) -> None:
        check_bool("budget.enabled", self.enabled)
        object.__setattr__(self, "ratio", check_number("budget.ratio", self.ratio, 0, 100, what="retries per request"))
        object.__setattr__(
            self,
            "min_retries_per_s",
            check_number("budget.min_retries_per_s", self.min_retries_per_s, 0, 1_000_000, what="retries per second"),
        )
        # Finagle's RetryBudget accepts a ttl from 1 s to 60 s; so do we.
        object.__setattr__(self, "window_s", check_number("budget.window_s", self.window_s, 1, 60, what="seconds"))


class RetryBudget:
    """Counts original requests and retries in a sliding window of time buckets."""

    __slots__ = (
        "_config",
        "_clock",
        "_width",
        "_epoch",
        "_requests",
        "_retries",
        "_total_requests",
        "_total_retries",
        "_floor",
        "_ratio",
        "_enabled",
        "rejected",
    )

    def __init__(self, config: RetryBudgetConfig, clock: Clock) -> None:
        self._clock = clock
        self.rejected = 0  # retries refused since creation, for metrics
        self._apply(config)

    def _apply(self, config: RetryBudgetConfig) -> None:
        self._config = config
        self._enabled = config.enabled
        self._ratio = config.ratio
        self._floor = config.min_retries_per_s * config.window_s
        self._width = config.window_s / BUCKETS
        self._requests = [0] * BUCKETS
        self._retries = [0] * BUCKETS
        self._total_requests = 0
        self._total_retries = 0
        self._epoch = int(self._clock.monotonic() / self._width)

    @property
    def config(self) -> RetryBudgetConfig:
        return self._config

    def reconfigure(self, config: RetryBudgetConfig) -> None:
        """Live policy change; counts are kept unless the window changes shape."""
        if config.window_s != self._config.window_s:
            self._apply(config)
        else:
            self._config = config
            self._enabled = config.enabled
            self._ratio = config.ratio
            self._floor = config.min_retries_per_s * config.window_s

    def _roll(self) -> int:
        """Move the ring to the current bucket, emptying buckets that left the window."""
        epoch = int(self._clock.monotonic() / self._width)
        steps = epoch - self._epoch
        if steps > 0:
            requests, retries = self._requests, self._retries
            if steps >= BUCKETS:
                for i in range(BUCKETS):
                    requests[i] = 0
                    retries[i] = 0
                self._total_requests = 0
                self._total_retries = 0
            else:
                for e in range(self._epoch + 1, epoch + 1):
                    i = e % BUCKETS
                    self._total_requests -= requests[i]
                    self._total_retries -= retries[i]
                    requests[i] = 0
                    retries[i] = 0
            self._epoch = epoch
        return epoch % BUCKETS

    def record_request(self) -> None:
        """Every original request (not a retry) deposits into the budget."""
        i = self._roll()
        self._requests[i] += 1
        self._total_requests += 1

    def try_withdraw(self) -> bool:
        """Ask to send one retry; False means the budget is exhausted (do not retry)."""
        if not self._enabled:
            return True
        i = self._roll()
        if self._total_retries + 1 > self._ratio * self._total_requests + self._floor + _EPS:
            self.rejected += 1
            return False
        self._retries[i] += 1
        self._total_retries += 1
        return True

    def snapshot(self) -> dict[str, Any]:
        self._roll()
        allowed = self._ratio * self._total_requests + self._floor
        return {
            "enabled": self._enabled,
            "window_s": self._config.window_s,
            "requests": self._total_requests,
            "retries": self._total_retries,
            "allowed": int(allowed + _EPS),
            "available": max(0, int(allowed + _EPS) - self._total_retries),
            "rejected": self.rejected,
        }
