"""Resilience patterns, written once and used by both the gateway and the sidecar.

Each module holds one pattern: a frozen config dataclass (every field defaulted, the
default's reason in a comment, validated with a sentence) and a small, allocation-light
object driven by an injected ``Clock`` (and ``random.Random`` where chance is involved).
Nothing here does I/O; the HTTP pipeline wires these objects in the order a request
travels: deadline → retry + budget → breaker / concurrency → balancer + outlier
ejection → attempt timeout → fallback.

    deadline     TimeoutConfig, Deadline, attempt_timeout_s
    retry        RetryConfig, is_retry_safe, is_retryable, backoff_s
    budget       RetryBudgetConfig, RetryBudget
    breaker      BreakerConfig, BreakerState, Transition, CircuitBreaker
    concurrency  ConcurrencyConfig, ConcurrencyLimiter
    balancer     BalancerConfig, Balancer, make_balancer
    outlier      OutlierConfig, OutlierEvent, OutlierDetector
    fallback     FallbackConfig, CachedResponse, LastGoodCache
    healthcheck  HealthCheckConfig, HealthTracker (verdicts; the pipeline probes)

Errors: an invalid config value raises ``ConfigError`` (a ``ValueError``) whose message
is a sentence naming the field as ``<pattern>.<field>`` and the allowed range.
"""
from __future__ import annotations

import math
from typing import Any


# --- config validation helpers (defined before the re-exports below, which import them) ---

class ConfigError(ValueError):
    """A config field holds a value outside its allowed range; ``field`` is ``pattern.field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(field, f"{field} must be true or false, got {value!r}.")


def check_int(field: str, value: Any, lo: int, hi: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        unit = f" {what}" if what else ""
        raise ConfigError(field, f"{field} must be a whole number{unit} from {lo} to {hi}, got {value!r}.")


def check_number(field: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
                 what: str = "") -> float:
    """Check a finite number in [lo, hi] (or (lo, hi] when ``lo_open``); return it as a float."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value > lo if lo_open else value >= lo) and value <= hi)
    if not ok:
        low = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
        unit = f" of {what}" if what else ""
        raise ConfigError(field, f"{field} must be a number{unit} {low} and at most {hi:g}, got {value!r}.")
    return float(value)


def set_float(obj: object, name: str, value: float) -> None:
    """Store a normalised value on a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)


# --- re-exports ---

from .deadline import DEADLINE_HEADER, Deadline, TimeoutConfig, attempt_timeout_s  # noqa: E402
from .retry import IDEMPOTENT_METHODS, RetryConfig, backoff_s, is_retry_safe, is_retryable  # noqa: E402
from .budget import RetryBudget, RetryBudgetConfig  # noqa: E402
from .breaker import BreakerConfig, BreakerState, CircuitBreaker, Transition  # noqa: E402
from .concurrency import ConcurrencyConfig, ConcurrencyLimiter  # noqa: E402
from .balancer import Balancer, BalancerConfig, make_balancer  # noqa: E402
from .outlier import OutlierConfig, OutlierDetector, OutlierEvent  # noqa: E402
from .fallback import CachedResponse, FallbackConfig, LastGoodCache  # noqa: E402
from .healthcheck import HealthCheckConfig, HealthTracker  # noqa: E402

__all__ = [
    "ConfigError",
    "DEADLINE_HEADER", "Deadline", "TimeoutConfig", "attempt_timeout_s",
    "IDEMPOTENT_METHODS", "RetryConfig", "backoff_s", "is_retry_safe", "is_retryable",
    "RetryBudget", "RetryBudgetConfig",
    "BreakerConfig", "BreakerState", "CircuitBreaker", "Transition",
    "ConcurrencyConfig", "ConcurrencyLimiter",
    "Balancer", "BalancerConfig", "make_balancer",
    "OutlierConfig", "OutlierDetector", "OutlierEvent",
    "CachedResponse", "FallbackConfig", "LastGoodCache", "HealthCheckConfig", "HealthTracker",
]
