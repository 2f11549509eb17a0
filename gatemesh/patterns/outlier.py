"""Outlier detection (Envoy's shape): *detecting* an outlier is separate from *enforcing*
its ejection.

Detection: ``consecutive_errors`` failed results in a row from one endpoint (Envoy's
consecutive_5xx) make it an outlier. Enforcement: it is ejected from load balancing for
``base_ejection_s x times_ejected`` (capped at ``max_ejection_s``), unless that would
eject more than ``max_ejection_percent`` of the endpoints. As Envoy does, one endpoint may
always be ejected even when the percentage rounds down to zero, but never the last
un-ejected one. A stopped ejection emits ``ejection-capped`` with the counts.

``times_ejected`` decays: one ejection is forgiven for every ``base_ejection_s`` an
endpoint stays in service (Envoy decrements it on each interval without ejection).
``healthy`` never returns an empty list while endpoints exist: when every endpoint is
ejected it returns them all. The wider rule, Envoy's panic threshold
(``panic_threshold_percent``: below 50 % healthy, balance over all endpoints), is applied
by the caller with ``patterns/panic.py`` over ejection, health checks and breakers alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gatemesh.clock import Clock
from gatemesh.patterns.validate import ConfigError, check_bool, check_int, check_number

EJECTED = "ejected"
RETURNED = "returned"
EJECTION_CAPPED = "ejection-capped"


@dataclass(frozen=True, slots=True)
class OutlierConfig:
    enabled: bool = True  # on: a single bad instance behind a healthy service is the common case
    consecutive_errors: int = 5  # Envoy's consecutive_5xx default (Istio consecutive5xxErrors too)
    base_ejection_s: float = 30.0  # Envoy's base_ejection_time default
    max_ejection_s: float = 300.0  # Envoy's max_ejection_time default
    max_ejection_percent: float = 10.0  # Envoy's default; one endpoint may always be ejected, never the last
    # Below this share of healthy endpoints, balance over all of them, ejected ones included
    # (patterns/panic.py). Envoy's healthy_panic_threshold default, 50; 0 turns panic off.
    panic_threshold_percent: float = 50.0

    def __post_init__(self) -> None:
        check_bool("outlier.enabled", self.enabled)
        check_int("outlier.consecutive_errors", self.consecutive_errors, 1, 1_000_000, "of errors")
        object.__setattr__(
            self,
            "base_ejection_s",
            check_number("outlier.base_ejection_s", self.base_ejection_s, 0, 86400, lo_open=True, what="seconds"),
        )
        object.__setattr__(
            self,
            "max_ejection_s",
            check_number("outlier.max_ejection_s", self.max_ejection_s, 0, 86400, lo_open=True, what="seconds"),
        )
        if self.max_ejection_s < self.base_ejection_s:
            raise ConfigError(
                "outlier.max_ejection_s",
                f"outlier.max_ejection_s must be at least outlier.base_ejection_s "
                f"({self.base_ejection_s:g} s), got {self.max_ejection_s:g} s.",
            )
        object.__setattr__(
            self,
            "max_ejection_percent",
            check_number("outlier.max_ejection_percent", self.max_ejection_percent, 0, 100, what="percent"),
        )
        object.__setattr__(
            self,
            "panic_threshold_percent",
            check_number("outlier.panic_threshold_percent", self.panic_threshold_percent, 0, 100, what="percent"),
        )


@dataclass(frozen=True, slots=True)
class OutlierEvent:
    kind: str  # "ejected" | "returned" | "ejection-capped"
    endpoint: str
    cause: str  # a sentence
    at: float  # clock time
    ejection_s: float | None  # how long it is ejected for ("ejected" only)


class _Endpoint:
    __slots__ = ("errors", "times_ejected", "returned_at")

    def __init__(self) -> None:
        self.errors = 0  # consecutive failed results
        self.times_ejected = 0
        self.returned_at = 0.0


class OutlierDetector:
    __slots__ = ("_config", "_clock", "_on_event", "_endpoints", "_ejected", "panics")

    def __init__(
        self, config: OutlierConfig, clock: Clock, on_event: Callable[[OutlierEvent], None] | None = None
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_event = on_event
        self._endpoints: dict[str, _Endpoint] = {}  # only endpoints that have failed at least once
        self._ejected: dict[str, float] = {}  # endpoint -> clock time its ejection ends
        self.panics = 0  # healthy() calls that found every endpoint ejected

    @property
    def config(self) -> OutlierConfig:
        return self._config

    # --- detection ---

    def on_result(self, endpoint: str, success: bool, total_endpoints: int) -> None:
        """Report one attempt's outcome; ``total_endpoints`` is the service's current size."""
        if success:
            state = self._endpoints.get(endpoint)
            if state is not None:
                state.errors = 0
            return
        config = self._config
        if not config.enabled or endpoint in self._ejected:
            return  # results from requests sent before the ejection say nothing new
        state = self._endpoints.get(endpoint)
        if state is None:
            state = self._endpoints[endpoint] = _Endpoint()
        state.errors += 1
        if state.errors >= config.consecutive_errors:
            self._enforce(endpoint, state, total_endpoints)

    # --- enforcement ---

    def _enforce(self, endpoint: str, state: _Endpoint, total: int) -> None:
        config = self._config
        now = self._clock.monotonic()
        self._expire(now)
        errors = state.errors
        state.errors = 0
        allowed = int(total * config.max_ejection_percent / 100.0)
        if allowed < 1:
            allowed = 1
        if allowed > total - 1:
            allowed = total - 1
        ejected = len(self._ejected)
        if ejected >= allowed:
            self._emit(
                EJECTION_CAPPED,
                endpoint,
                now,
                None,
                f"{endpoint} failed {errors} times in a row but stays in service: {ejected} of "
                f"{total} endpoints are already ejected and max_ejection_percent="
                f"{config.max_ejection_percent:g} allows {max(allowed, 0)} (never the last one).",
            )
            return
        if state.times_ejected and state.returned_at:
            forgiven = int((now - state.returned_at) / config.base_ejection_s)
            state.times_ejected = max(0, state.times_ejected - forgiven)
        state.times_ejected += 1
        duration = config.base_ejection_s * state.times_ejected
        if duration > config.max_ejection_s:
            duration = config.max_ejection_s
        self._ejected[endpoint] = now + duration
        self._emit(
            EJECTED,
            endpoint,
            now,
            duration,
            f"{endpoint} failed {errors} times in a row (consecutive_errors={config.consecutive_errors}); "
            f"ejected for {duration:g} s (ejection #{state.times_ejected}).",
        )

    def _expire(self, now: float) -> None:
        if self._ejected:
            for endpoint, until in list(self._ejected.items()):
                if now >= until:
                    self._return(endpoint, now, "its ejection time is up")

    def _return(self, endpoint: str, now: float, why: str) -> None:
        del self._ejected[endpoint]
        state = self._endpoints.get(endpoint)
        if state is not None:
            state.returned_at = now
            state.errors = 0
        self._emit(RETURNED, endpoint, now, None, f"{endpoint} is back in load balancing: {why}.")

    def _emit(self, kind: str, endpoint: str, now: float, ejection_s: float | None, cause: str) -> None:
        if self._on_event is not None:
            self._on_event(OutlierEvent(kind, endpoint, cause, now, ejection_s))

    # --- queries for the balancer ---

    def is_ejected(self, endpoint: str) -> bool:
        """True while ``endpoint`` is ejected; returns it to service once its time is up."""
        if not self._ejected:
            return False
        until = self._ejected.get(endpoint)
        if until is None:
            return False
        now = self._clock.monotonic()
        if now < until:
            return True
        self._return(endpoint, now, "its ejection time is up")
        return False

    def healthy(self, endpoints: Sequence[str]) -> list[str]:
        """The endpoints not ejected; all of them when every one is ejected (panic mode).

        With nothing ejected this returns ``endpoints`` itself when it is a list (no copy on
        the common path): treat the result as read-only.
        """
        if not self._ejected:
            return endpoints if isinstance(endpoints, list) else list(endpoints)
        kept = [e for e in endpoints if not self.is_ejected(e)]
        if kept or not endpoints:
            return kept
        self.panics += 1
        return list(endpoints)

    def ejected(self) -> dict[str, float]:
        """Ejected endpoints and the seconds each has left (for metrics and debug)."""
        now = self._clock.monotonic()
        self._expire(now)
        return {e: until - now for e, until in self._ejected.items()}

    def forget(self, endpoint: str) -> None:
        """Drop all state for an endpoint that left the service (no event)."""
        self._endpoints.pop(endpoint, None)
        self._ejected.pop(endpoint, None)

    def reconfigure(self, config: OutlierConfig) -> None:
        """Live policy change. Current ejections keep their end time; turning detection off
        returns every ejected endpoint at once."""
        self._config = config
        if not config.enabled and self._ejected:
            now = self._clock.monotonic()
            for endpoint in list(self._ejected):
                self._return(endpoint, now, "outlier detection was turned off")
