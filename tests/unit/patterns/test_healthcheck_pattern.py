"""Active health-check verdicts: thresholds in a row, events on each change, reset when off."""

import pytest

from gatemesh.patterns import ConfigError
from gatemesh.patterns.healthcheck import HEALTHY, UNHEALTHY, HealthCheckConfig, HealthTracker


def tracker(**kw):
    events = []
    t = HealthTracker(HealthCheckConfig(enabled=True, **kw), lambda k, e, c: events.append((k, e)))
    return t, events


def test_unhealthy_after_threshold_failures_in_a_row_only():
    t, events = tracker(unhealthy_threshold=3)
    for ok in (False, False, True, False, False):
        t.record("a", ok)
    assert t.is_healthy("a") and events == []
    t.record("a", False)
    assert not t.is_healthy("a") and events == [(UNHEALTHY, "a")]


def test_back_after_healthy_threshold_passes():
    t, events = tracker(unhealthy_threshold=1, healthy_threshold=2)
    t.record("a", False)
    t.record("a", True)
    assert not t.is_healthy("a")
    t.record("a", True)
    assert t.is_healthy("a") and events == [(UNHEALTHY, "a"), (HEALTHY, "a")]


def test_disabling_forgets_verdicts_and_unknown_endpoints_are_healthy():
    t, _ = tracker(unhealthy_threshold=1)
    t.record("a", False)
    t.reconfigure(HealthCheckConfig(enabled=False))
    assert t.is_healthy("a") and t.is_healthy("never-probed")


def test_removed_endpoints_are_forgotten():
    t, _ = tracker(unhealthy_threshold=1)
    t.record("a", False)
    t.forget_except(["b"])
    assert t.is_healthy("a") and not t.any_unhealthy


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"interval_s": 0}, "health_check.interval_s"),
        ({"timeout_s": 2.0, "interval_s": 1.0}, "health_check.timeout_s"),
        ({"unhealthy_threshold": 0}, "health_check.unhealthy_threshold"),
        ({"path": "health"}, "health_check.path"),
    ],
)
def test_bad_config_names_the_field(kw, field):
    with pytest.raises(ConfigError) as err:
        HealthCheckConfig(**kw)
    assert err.value.field == field
