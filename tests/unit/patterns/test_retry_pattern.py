"""gatemesh.patterns.retry: what may be retried, what is retried, and the backoff."""

import random

import pytest

from gatemesh.patterns.retry import IDEMPOTENT_METHODS, RetryConfig, backoff_s, is_retry_safe, is_retryable
from gatemesh.policy import Policy
from gatemesh.reasons import Reason


def test_defaults_follow_envoy_backoff_and_gateway_errors():
    cfg = RetryConfig()
    assert cfg.max_attempts == 3
    assert cfg.retry_on_statuses == frozenset({502, 503, 504})
    assert (cfg.backoff_base_s, cfg.backoff_max_s) == (0.025, 0.25)


def test_only_idempotent_methods_or_keyed_requests_are_safe_to_retry():
    for method in IDEMPOTENT_METHODS:
        assert is_retry_safe(method, False)
    assert not is_retry_safe(b"POST", False)
    assert not is_retry_safe(b"PATCH", False)
    assert is_retry_safe(b"POST", True)


def test_retryable_outcomes_follow_the_config():
    cfg = RetryConfig(retry_on_reset=False)
    assert is_retryable(cfg, status=503)
    assert not is_retryable(cfg, status=500)
    assert is_retryable(cfg, failure=Reason.CONNECT_FAILED)
    assert is_retryable(cfg, failure=Reason.TIMEOUT)
    assert not is_retryable(cfg, failure=Reason.UPSTREAM_RESET)
    assert not is_retryable(RetryConfig(enabled=False), status=503)


def test_only_a_failed_connect_is_retried_for_a_request_that_is_not_retry_safe():
    cfg = RetryConfig()
    assert is_retryable(cfg, failure=Reason.CONNECT_FAILED, retry_safe=False)  # nothing reached the app
    assert not is_retryable(cfg, failure=Reason.TIMEOUT, retry_safe=False)
    assert not is_retryable(cfg, failure=Reason.UPSTREAM_RESET, retry_safe=False)
    assert not is_retryable(cfg, status=503, retry_safe=False)
    assert is_retryable(cfg, failure=Reason.UPSTREAM_RESET, retry_safe=True)


def test_backoff_stays_within_the_full_jitter_range_for_each_retry():
    cfg = RetryConfig(backoff_base_s=0.025, backoff_max_s=0.25)
    rng = random.Random(7)
    for n, cap in [(1, 0.025), (2, 0.05), (3, 0.1), (4, 0.2), (5, 0.25), (50, 0.25), (5000, 0.25)]:
        samples = [backoff_s(cfg, n, rng) for _ in range(300)]
        assert all(0 <= s <= cap for s in samples)
        assert max(samples) > cap * 0.9  # the range is actually used up to its cap


def test_backoff_grows_on_average_with_each_retry_until_capped():
    cfg = RetryConfig()
    rng = random.Random(1)
    means = [sum(backoff_s(cfg, n, rng) for _ in range(2000)) / 2000 for n in (1, 2, 3, 4)]
    assert means[0] < means[1] < means[2] < means[3]
    assert means[0] == pytest.approx(0.0125, rel=0.1)


def test_backoff_needs_a_retry_number_of_at_least_one():
    with pytest.raises(ValueError, match="retry number of 1 or more"):
        backoff_s(RetryConfig(), 0, random.Random())


def test_status_lists_in_a_policy_are_normalised_to_a_frozenset():
    policy = Policy.from_dict({"retry": {"retry_on_statuses": [503, 503, 429]}})
    assert policy.retry.retry_on_statuses == frozenset({429, 503})


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_attempts": 0}, "retry.max_attempts"),
        ({"retry_on_statuses": frozenset({700})}, "retry.retry_on_statuses"),
        ({"backoff_base_s": 0}, "retry.backoff_base_s"),
        ({"backoff_base_s": 0.5, "backoff_max_s": 0.1}, "retry.backoff_max_s"),
    ],
)
def test_retry_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")) as err:
        RetryConfig(**kwargs)
    assert str(err.value).endswith(".")
