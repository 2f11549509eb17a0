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

from .balancer import Balancer, BalancerConfig, make_balancer
from .breaker import BreakerConfig, BreakerState, CircuitBreaker, Transition
from .budget import RetryBudget, RetryBudgetConfig
from .concurrency import ConcurrencyConfig, ConcurrencyLimiter
from .deadline import DEADLINE_HEADER, Deadline, TimeoutConfig, attempt_timeout_s
from .fallback import CachedResponse, FallbackConfig, LastGoodCache
from .healthcheck import HealthCheckConfig, HealthTracker
from .outlier import OutlierConfig, OutlierDetector, OutlierEvent
from .retry import IDEMPOTENT_METHODS, RetryConfig, backoff_s, is_retry_safe, is_retryable
from .validate import ConfigError, check_at_least, check_bool, check_int, check_number, set_float

__all__ = [
    "ConfigError",
    "check_at_least",
    "check_bool",
    "check_int",
    "check_number",
    "set_float",
    "DEADLINE_HEADER",
    "Deadline",
    "TimeoutConfig",
    "attempt_timeout_s",
    "IDEMPOTENT_METHODS",
    "RetryConfig",
    "backoff_s",
    "is_retry_safe",
    "is_retryable",
    "RetryBudget",
    "RetryBudgetConfig",
    "BreakerConfig",
    "BreakerState",
    "CircuitBreaker",
    "Transition",
    "ConcurrencyConfig",
    "ConcurrencyLimiter",
    "Balancer",
    "BalancerConfig",
    "make_balancer",
    "OutlierConfig",
    "OutlierDetector",
    "OutlierEvent",
    "CachedResponse",
    "FallbackConfig",
    "LastGoodCache",
    "HealthCheckConfig",
    "HealthTracker",
]
