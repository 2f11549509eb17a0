"""gatemesh.presets: every named preset is a valid policy with its product's numbers."""

import pytest

from gatemesh.policy import Policy
from gatemesh.presets import PRESETS, preset


def test_the_required_presets_exist():
    assert {"gatemesh", "envoy", "istio", "linkerd", "hystrix", "resilience4j"} <= set(PRESETS)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_validates_and_round_trips_through_json_form(name):
    policy = preset(name)
    assert isinstance(policy, Policy)
    assert Policy.from_dict(policy.to_dict()) == policy


def test_gatemesh_preset_is_our_defaults():
    assert preset("gatemesh") == Policy()


def test_presets_carry_their_products_numbers():
    assert preset("envoy").concurrency.max_in_flight == 1024
    assert preset("envoy").outlier.base_ejection_s == 30.0
    istio = preset("istio")
    assert istio.retry.max_attempts == 3 and istio.retry.retry_on_statuses == {503}
    assert istio.timeout.enabled is False
    linkerd = preset("linkerd")
    assert (linkerd.budget.ratio, linkerd.budget.min_retries_per_s, linkerd.budget.window_s) == (0.2, 10, 10)
    assert linkerd.outlier.consecutive_errors == 7
    hystrix = preset("hystrix")
    assert (hystrix.breaker.minimum_calls, hystrix.breaker.failure_rate_threshold, hystrix.breaker.open_s) == (
        20,
        0.5,
        5,
    )
    assert hystrix.timeout.attempt_timeout_s == 1.0 and hystrix.retry.enabled is False
    r4j = preset("resilience4j")
    assert (
        r4j.breaker.window_size,
        r4j.breaker.minimum_calls,
        r4j.breaker.open_s,
        r4j.breaker.half_open_max_probes,
    ) == (100, 100, 60, 10)


def test_unknown_preset_names_the_choices():
    with pytest.raises(KeyError) as err:
        preset("nginx")
    assert str(err.value) == (
        "There is no preset named 'nginx'; the presets are: envoy, gatemesh, hystrix, istio, linkerd, resilience4j."
    )
