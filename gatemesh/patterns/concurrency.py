"""Concurrency limit (Envoy's ``max_requests`` circuit breaker): at most ``max_in_flight``
requests to a service at once; the next one is refused at once (``overloaded``) rather
than queued, so a slow upstream cannot pile up unbounded work in the proxy.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatemesh.patterns.validate import check_bool, check_int

MAX_LIMIT = 2**32 - 1  # Istio's "unlimited" http2MaxRequests


@dataclass(frozen=True, slots=True)
class ConcurrencyConfig:
    enabled: bool = True  # on: bounding in-flight work is what keeps a slow upstream from sinking the proxy
    max_in_flight: int = 1024  # Envoy's default max_requests per cluster

    def __post_init__(self) -> None:
        check_bool("concurrency.enabled", self.enabled)
        check_int("concurrency.max_in_flight", self.max_in_flight, 1, MAX_LIMIT, "of requests")


class ConcurrencyLimiter:
    """Counts requests in flight; ``try_acquire`` then exactly one ``release`` per request.

    In-flight requests are counted even when disabled, so turning the limit on at runtime
    starts from the true count.
    """

    __slots__ = ("_config", "_limit", "_in_flight", "rejected")

    def __init__(self, config: ConcurrencyConfig) -> None:
        self._in_flight = 0
        self.rejected = 0  # refusals since creation, for metrics
        self.reconfigure(config)

    @property
    def config(self) -> ConcurrencyConfig:
        return self._config

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_acquire(self) -> bool:
        if self._in_flight >= self._limit:
            self.rejected += 1
            return False
        self._in_flight += 1
        return True

    def release(self) -> None:
        if self._in_flight > 0:
            self._in_flight -= 1

    def reconfigure(self, config: ConcurrencyConfig) -> None:
        """Live policy change; requests already in flight stay counted (a lower limit only
        refuses new ones)."""
        self._config = config
        self._limit = config.max_in_flight if config.enabled else float("inf")
