"""Named policies that reproduce the defaults of well-known proxies and libraries.

A preset switches on every pattern the product *has*, with the product's own default
numbers, and switches off the patterns it does not have (so ``preset("hystrix")`` does
not retry, because Hystrix does not). Where our model differs from the product's, the
comment says how the numbers were mapped; where we are not sure of a number, it says so.
Sources are the products' reference docs (Envoy cluster/route/outlier protos, Istio
DestinationRule/VirtualService, Linkerd retries/circuit-breaking pages, the Hystrix
wiki "Configuration", the Resilience4j docs).
"""

from __future__ import annotations

from gatemesh.patterns.balancer import LEAST_REQUEST, ROUND_ROBIN, BalancerConfig
from gatemesh.patterns.breaker import BreakerConfig
from gatemesh.patterns.budget import RetryBudgetConfig
from gatemesh.patterns.concurrency import ConcurrencyConfig
from gatemesh.patterns.deadline import TimeoutConfig
from gatemesh.patterns.fallback import FallbackConfig
from gatemesh.patterns.outlier import OutlierConfig
from gatemesh.patterns.retry import RetryConfig
from gatemesh.policy import Policy

_ALL_5XX = frozenset(range(500, 600))

PRESETS: dict[str, Policy] = {
    # Our defaults: see each config class for the reason behind every number.
    "gatemesh": Policy(),
    # Envoy, each feature configured with its defaults.
    "envoy": Policy(
        # Route timeout defaults to 15 s; per_try_timeout is unset, so a try may use it all.
        timeout=TimeoutConfig(attempt_timeout_s=15.0, request_timeout_s=15.0),
        # A retry_policy's num_retries defaults to 1 (2 tries); retry_on has no default, we use
        # "gateway-error,connect-failure,reset". Backoff: base_interval 25 ms, max 10 x base.
        # (Envoy's jitter range is [0, (2^N - 1) x base]; ours is [0, 2^(N-1) x base].)
        retry=RetryConfig(
            max_attempts=2, retry_on_statuses=frozenset({502, 503, 504}), backoff_base_s=0.025, backoff_max_s=0.25
        ),
        # Envoy limits retries by concurrency (max_retries = 3 in flight per cluster), and its
        # optional retry_budget (20% of active requests, min 3 concurrent) is concurrency-based
        # too: neither is a rate budget, so ours is off.
        budget=RetryBudgetConfig(enabled=False),
        # Envoy's "circuit breakers" are concurrency limits; it has no open/half-open breaker.
        breaker=BreakerConfig(enabled=False),
        # Cluster circuit breaker max_requests defaults to 1024.
        concurrency=ConcurrencyConfig(max_in_flight=1024),
        # lb_policy defaults to ROUND_ROBIN.
        balancer=BalancerConfig(kind=ROUND_ROBIN),
        # outlier_detection: consecutive_5xx 5, base_ejection_time 30 s, max_ejection_time 300 s,
        # max_ejection_percent 10 (Envoy only detects when outlier_detection is configured).
        outlier=OutlierConfig(
            consecutive_errors=5, base_ejection_s=30.0, max_ejection_s=300.0, max_ejection_percent=10.0
        ),
        fallback=FallbackConfig(enabled=False),  # Envoy has no response fallback
    ),
    # Istio (Envoy configured by istiod), out of the box plus DestinationRule defaults.
    "istio": Policy(
        # No timeout by default (VirtualService timeout and perTryTimeout unset).
        timeout=TimeoutConfig(enabled=False),
        # Default retries: attempts 2 (3 tries), retryOn "connect-failure,refused-stream,
        # unavailable,cancelled,retriable-status-codes" with retriable status 503; no "reset",
        # no per-try timeout. Backoff: Envoy's 25 ms base (Istio sets no other).
        retry=RetryConfig(
            max_attempts=3,
            retry_on_statuses=frozenset({503}),
            retry_on_connect_failure=True,
            retry_on_reset=False,
            retry_on_timeout=False,
            backoff_base_s=0.025,
            backoff_max_s=0.25,
        ),
        budget=RetryBudgetConfig(enabled=False),  # no retry budget by default
        breaker=BreakerConfig(enabled=False),  # Istio's "circuit breaking" is connectionPool + outlierDetection
        # connectionPool.http.http2MaxRequests: current docs give 2^32-1 (unlimited); older
        # releases documented 1024. We follow the current docs: no limit.
        concurrency=ConcurrencyConfig(enabled=False),
        # LEAST_REQUEST has been Istio's default since 1.14, we believe (ROUND_ROBIN before);
        # not verified against the release notes here.
        balancer=BalancerConfig(kind=LEAST_REQUEST),
        # outlierDetection defaults (when a DestinationRule sets it): consecutive5xxErrors 5,
        # baseEjectionTime 30 s, maxEjectionPercent 10. Max ejection time: Envoy's 300 s.
        outlier=OutlierConfig(
            consecutive_errors=5, base_ejection_s=30.0, max_ejection_s=300.0, max_ejection_percent=10.0
        ),
        fallback=FallbackConfig(enabled=False),
    ),
    # Linkerd 2.x.
    "linkerd": Policy(
        # No request timeout unless timeout.linkerd.io/request is set.
        timeout=TimeoutConfig(enabled=False),
        # Annotation retries (2.16+): retry.linkerd.io/limit defaults to 1 (2 tries), retrying
        # the statuses in retry.linkerd.io/http, typically "5xx"; timeouts only when
        # retry.linkerd.io/timeout is set. Linkerd's retry backoff is not documented that we
        # could find: we keep Envoy's 25 ms / 250 ms (unsure).
        retry=RetryConfig(
            max_attempts=2,
            retry_on_statuses=_ALL_5XX,
            retry_on_connect_failure=True,
            retry_on_reset=False,
            retry_on_timeout=False,
        ),
        # ServiceProfile retryBudget defaults: retryRatio 0.2, minRetriesPerSecond 10, ttl 10 s.
        budget=RetryBudgetConfig(ratio=0.2, min_retries_per_s=10.0, window_s=10.0),
        breaker=BreakerConfig(enabled=False),  # no service-level breaker: Linkerd breaks per endpoint
        concurrency=ConcurrencyConfig(enabled=False),  # no max-requests limit
        balancer=BalancerConfig(kind=LEAST_REQUEST),  # Linkerd balances with EWMA power-of-two-choices
        # Failure accrual ("consecutive"): max-failures 7, min-penalty 1 s, max-penalty 1 min.
        # Linkerd may make every endpoint unavailable (and fail fast); our detector keeps one
        # and panics instead, so 100% here means "all but the last".
        outlier=OutlierConfig(
            consecutive_errors=7, base_ejection_s=1.0, max_ejection_s=60.0, max_ejection_percent=100.0
        ),
        fallback=FallbackConfig(enabled=False),
    ),
    # Netflix Hystrix (HystrixCommand defaults).
    "hystrix": Policy(
        # execution.isolation.thread.timeoutInMilliseconds 1000; no retries, so the request
        # timeout is the same second.
        timeout=TimeoutConfig(attempt_timeout_s=1.0, request_timeout_s=1.0),
        retry=RetryConfig(enabled=False, max_attempts=1),  # Hystrix does not retry
        budget=RetryBudgetConfig(enabled=False),
        # circuitBreaker.requestVolumeThreshold 20, errorThresholdPercentage 50,
        # sleepWindowInMilliseconds 5000, one test request when half-open. Hystrix's window is
        # 10 s of time (metrics.rollingStats); ours counts calls, so we use the last 20 calls.
        breaker=BreakerConfig(
            consecutive_failures=0,
            failure_rate_threshold=0.5,
            window_size=20,
            minimum_calls=20,
            open_s=5.0,
            half_open_max_probes=1,
        ),
        concurrency=ConcurrencyConfig(max_in_flight=10),  # thread pool coreSize 10 (semaphore max 10 too)
        balancer=BalancerConfig(kind=ROUND_ROBIN),  # Hystrix does no balancing; neutral round robin
        outlier=OutlierConfig(enabled=False),
        # getFallback() is Hystrix's core idea, but it is code the user writes: off until a
        # default_status / body is set.
        fallback=FallbackConfig(enabled=False),
    ),
    # Resilience4j (CircuitBreaker, Retry, TimeLimiter, Bulkhead defaults).
    "resilience4j": Policy(
        # TimeLimiter timeoutDuration 1 s per call; it has no overall deadline (ours stays 5 s).
        timeout=TimeoutConfig(attempt_timeout_s=1.0, request_timeout_s=5.0),
        # Retry maxAttempts 3 with a fixed waitDuration of 500 ms, retrying on every exception.
        # Our backoff is full jitter, so base = max = 0.5 s waits uniformly in [0, 500 ms].
        retry=RetryConfig(max_attempts=3, retry_on_statuses=_ALL_5XX, backoff_base_s=0.5, backoff_max_s=0.5),
        budget=RetryBudgetConfig(enabled=False),  # no retry budget
        # failureRateThreshold 50%, COUNT_BASED slidingWindowSize 100, minimumNumberOfCalls 100,
        # waitDurationInOpenState 60 s, permittedNumberOfCallsInHalfOpenState 10. Its slow-call
        # rule (60 s, judged by a separate 100% slow-call rate) has no twin here: left off.
        breaker=BreakerConfig(
            consecutive_failures=0,
            failure_rate_threshold=0.5,
            window_size=100,
            minimum_calls=100,
            slow_call_s=None,
            open_s=60.0,
            half_open_max_probes=10,
        ),
        concurrency=ConcurrencyConfig(max_in_flight=25),  # Bulkhead maxConcurrentCalls 25
        balancer=BalancerConfig(kind=ROUND_ROBIN),  # no balancing in Resilience4j; neutral round robin
        outlier=OutlierConfig(enabled=False),
        fallback=FallbackConfig(enabled=False),  # fallbacks are user code (Vavr recover / fallbackMethod)
    ),
}


class UnknownPreset(KeyError):
    """No preset by that name (a ``KeyError`` whose ``str`` is the plain sentence)."""

    def __str__(self) -> str:
        return str(self.args[0])


def preset(name: str) -> Policy:
    """The named preset; ``UnknownPreset`` (a ``KeyError``) with a sentence listing the names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPreset(
            f"There is no preset named {name!r}; the presets are: {', '.join(sorted(PRESETS))}."
        ) from None
