"""Retries: which outcomes are retried, which requests are safe to retry, and how long to wait.

The loop itself lives in the pipeline; this module answers its three questions:
``is_retry_safe`` (may this request be sent twice?), ``is_retryable`` (is this outcome
worth another try?) and ``backoff_s`` (how long to wait before try n+1?). Whether a retry
is *affordable* is the retry budget's question (``budget.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from gatemesh.patterns.validate import ConfigError, check_at_least, check_bool, check_int, check_number
from gatemesh.reasons import Reason

IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})  # RFC 9110 §9.2.2


@dataclass(frozen=True, slots=True)
class RetryConfig:
    enabled: bool = True  # on: a single transient 503 or reset should not reach the client
    max_attempts: int = 3  # total tries incl. the first: 2 retries, as Istio's default (attempts: 2)
    retry_on_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({502, 503, 504})
    )  # Envoy's "gateway-error"
    retry_on_connect_failure: bool = True  # Envoy/Istio "connect-failure": nothing reached the app, always safe
    retry_on_reset: bool = True  # Envoy "reset": the connection died before a response
    retry_on_timeout: bool = True  # a per-try timeout is retried, as Envoy does for gateway-error/5xx
    backoff_base_s: float = 0.025  # Envoy's default base_interval, 25 ms
    backoff_max_s: float = 0.25  # Envoy's default max_interval, 10 x base

    def __post_init__(self) -> None:
        check_bool("retry.enabled", self.enabled)
        check_int("retry.max_attempts", self.max_attempts, 1, 100, "of attempts")
        # A frozenset, as annotated (a compiled config refuses anything else before this runs);
        # a policy document's list becomes one in policy.py.
        statuses = self.retry_on_statuses
        if not isinstance(statuses, frozenset):
            raise ConfigError(
                "retry.retry_on_statuses",
                f"retry.retry_on_statuses must be a frozenset of HTTP status codes, got {statuses!r}.",
            )
        for code in statuses:
            if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
                raise ConfigError(
                    "retry.retry_on_statuses",
                    f"retry.retry_on_statuses must hold HTTP status codes from 100 to 599, got {code!r}.",
                )
        check_bool("retry.retry_on_connect_failure", self.retry_on_connect_failure)
        check_bool("retry.retry_on_reset", self.retry_on_reset)
        check_bool("retry.retry_on_timeout", self.retry_on_timeout)
        object.__setattr__(
            self,
            "backoff_base_s",
            check_number("retry.backoff_base_s", self.backoff_base_s, 0, 60, lo_open=True, what="seconds"),
        )
        object.__setattr__(
            self,
            "backoff_max_s",
            check_number("retry.backoff_max_s", self.backoff_max_s, 0, 60, lo_open=True, what="seconds"),
        )
        check_at_least("retry.backoff_max_s", self.backoff_max_s, "retry.backoff_base_s", self.backoff_base_s)


def is_retry_safe(method: bytes, has_idempotency_key: bool) -> bool:
    """Only idempotent methods, or requests carrying an ``Idempotency-Key``, may be sent twice."""
    return has_idempotency_key or method in IDEMPOTENT_METHODS


def is_retryable(
    config: RetryConfig, status: int | None = None, failure: Reason | None = None, retry_safe: bool = True
) -> bool:
    """Is this outcome one the config retries, for a request that is ``retry_safe`` or not?

    Give the answer's ``status``, or the ``failure`` when there was no answer
    (``Reason.CONNECT_FAILED``, ``Reason.UPSTREAM_RESET`` or ``Reason.TIMEOUT``). A failed
    connect is retried even when the request is not retry-safe: nothing reached the app.
    """
    if not config.enabled:
        return False
    if failure is None:
        return retry_safe and status in config.retry_on_statuses
    if failure == Reason.CONNECT_FAILED:
        return config.retry_on_connect_failure
    if not retry_safe:
        return False
    if failure == Reason.UPSTREAM_RESET:
        return config.retry_on_reset
    if failure == Reason.TIMEOUT:
        return config.retry_on_timeout
    return False


def backoff_s(config: RetryConfig, retry_number: int, rng: random.Random) -> float:
    """The wait before retry ``retry_number`` (1 = the first retry) under ``config``."""
    return jittered_backoff_s(config.backoff_base_s, config.backoff_max_s, retry_number, rng)


def jittered_backoff_s(base_s: float, max_s: float, n: int, rng: random.Random) -> float:
    """Full-jitter exponential backoff before try n+1 (n = 1 for the first): uniform over
    [0, min(max_s, base_s * 2**(n-1))]. The one backoff: retries and reconnects use it."""
    if n < 1:
        raise ValueError(f"backoff_s needs a retry number of 1 or more, got {n!r}.")
    cap = max_s
    if n <= 32:  # beyond 2**31 x base the cap always wins; skip the huge power
        grown = base_s * (1 << (n - 1))
        if grown < cap:
            cap = grown
    return rng.random() * cap
