"""Active health checking (Envoy's shape): probe every endpoint on an interval and take
it out of load balancing after `unhealthy_threshold` failed probes in a row, back in
after `healthy_threshold` good ones.

Passive outlier ejection only learns from real traffic, so an instance that is never
picked (or a whole quiet service) is judged late; an active check finds a dead instance
before a user's request does. This module only keeps the verdicts; the probing (I/O)
is done by the pipeline, which feeds `record()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gatemesh.patterns.validate import ConfigError, check_bool, check_int, check_number

UNHEALTHY = "health-check-failed"
HEALTHY = "health-check-passed"


@dataclass(frozen=True, slots=True)
class HealthCheckConfig:
    enabled: bool = (
        False  # off: probes cost a request per endpoint per interval (Envoy checks nothing unless configured)
    )
    interval_s: float = 1.0  # Envoy makes you choose; 1 s keeps a demo responsive
    timeout_s: float = 0.5  # below the interval, so probes to one endpoint never overlap
    unhealthy_threshold: int = 2  # Envoy's field; 2 misses tolerate one lost probe
    healthy_threshold: int = 2  # Envoy's field; 2 passes before traffic returns, so a flapping endpoint waits
    path: str = "/health"  # every gatemesh app and sidecar answers it (a sidecar's checks its app too)

    def __post_init__(self) -> None:
        check_bool("health_check.enabled", self.enabled)
        object.__setattr__(
            self, "interval_s", check_number("health_check.interval_s", self.interval_s, 0.05, 3600, what="seconds")
        )
        object.__setattr__(
            self,
            "timeout_s",
            check_number("health_check.timeout_s", self.timeout_s, 0, 60, lo_open=True, what="seconds"),
        )
        if self.timeout_s > self.interval_s:
            raise ConfigError(
                "health_check.timeout_s",
                f"health_check.timeout_s must not exceed health_check.interval_s "
                f"({self.interval_s:g} s), got {self.timeout_s:g} s.",
            )
        check_int("health_check.unhealthy_threshold", self.unhealthy_threshold, 1, 100, "of probes")
        check_int("health_check.healthy_threshold", self.healthy_threshold, 1, 100, "of probes")
        if not isinstance(self.path, str) or not self.path.startswith("/"):
            raise ConfigError("health_check.path", f"health_check.path must start with '/', got {self.path!r}.")


class HealthTracker:
    """Per-endpoint verdicts from probe results; unknown endpoints count as healthy."""

    __slots__ = ("_config", "_unhealthy", "_streak", "_on_change")

    def __init__(self, config: HealthCheckConfig, on_change: Callable[[str, str, str], None] | None = None):
        self._config = config
        self._unhealthy: set[str] = set()
        self._streak: dict[str, int] = {}  # >0: passes in a row, <0: failures in a row
        self._on_change = on_change

    def reconfigure(self, config: HealthCheckConfig) -> None:
        self._config = config
        if not config.enabled:
            self._unhealthy.clear()
            self._streak.clear()

    def record(self, endpoint: str, ok: bool, detail: str = "") -> None:
        streak = self._streak.get(endpoint, 0)
        streak = (streak + 1 if streak > 0 else 1) if ok else (streak - 1 if streak < 0 else -1)
        self._streak[endpoint] = streak
        cfg = self._config
        if ok and endpoint in self._unhealthy and streak >= cfg.healthy_threshold:
            self._unhealthy.discard(endpoint)
            self._emit(HEALTHY, endpoint, f"{streak} health checks passed in a row")
        elif not ok and endpoint not in self._unhealthy and -streak >= cfg.unhealthy_threshold:
            self._unhealthy.add(endpoint)
            self._emit(
                UNHEALTHY, endpoint, f"{-streak} health checks failed in a row" + (f" ({detail})" if detail else "")
            )

    def is_healthy(self, endpoint: str) -> bool:
        return endpoint not in self._unhealthy

    @property
    def any_unhealthy(self) -> bool:
        return bool(self._unhealthy)

    def forget_except(self, endpoints: Iterable[str]) -> None:
        keep = set(endpoints)
        self._unhealthy &= keep
        self._streak = {e: s for e, s in self._streak.items() if e in keep}

    def _emit(self, kind: str, endpoint: str, cause: str) -> None:
        if self._on_change is not None:
            self._on_change(kind, endpoint, cause)
