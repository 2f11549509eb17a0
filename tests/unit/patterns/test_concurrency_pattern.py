"""gatemesh.patterns.concurrency: a max-in-flight limit (Envoy max_requests)."""

import pytest

from gatemesh.patterns.concurrency import ConcurrencyConfig, ConcurrencyLimiter


def test_default_limit_is_envoys_1024():
    assert ConcurrencyConfig().max_in_flight == 1024


def test_refuses_beyond_the_limit_and_admits_again_after_release():
    limiter = ConcurrencyLimiter(ConcurrencyConfig(max_in_flight=2))
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    assert limiter.in_flight == 2 and limiter.rejected == 1
    limiter.release()
    assert limiter.try_acquire()


def test_release_never_goes_below_zero():
    limiter = ConcurrencyLimiter(ConcurrencyConfig())
    limiter.release()
    assert limiter.in_flight == 0


def test_disabled_limiter_admits_everything_but_keeps_counting():
    limiter = ConcurrencyLimiter(ConcurrencyConfig(enabled=False, max_in_flight=1))
    for _ in range(5):
        assert limiter.try_acquire()
    assert limiter.in_flight == 5
    limiter.reconfigure(ConcurrencyConfig(max_in_flight=3))  # turned on with 5 already in flight
    assert not limiter.try_acquire()
    for _ in range(3):
        limiter.release()
    assert limiter.try_acquire()


@pytest.mark.parametrize("value", [0, -1, 2**32])
def test_concurrency_config_rejects_bad_limits_naming_the_field(value):
    with pytest.raises(ValueError, match=r"concurrency\.max_in_flight"):
        ConcurrencyConfig(max_in_flight=value)
