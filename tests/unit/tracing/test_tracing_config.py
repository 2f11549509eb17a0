"""TracingConfig: OpenTelemetry's environment variables, each mistake one sentence."""

from __future__ import annotations

import pytest

from gatemesh import tracing
from gatemesh.tracing.config import TracingConfig, TracingConfigError


def test_no_endpoint_means_off_and_no_tracer():
    assert not TracingConfig.from_env({}).enabled
    assert tracing.from_env("p", "svc", "i", env={}) is None


def test_the_endpoint_and_ratio_come_from_the_otel_variables():
    cfg = TracingConfig.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
    )
    assert (cfg.enabled, cfg.endpoint, cfg.ratio) == (True, "http://127.0.0.1:4318", 0.01)


def test_gatemesh_tracing_off_wins_over_an_endpoint():
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "GATEMESH_TRACING": "off"}
    assert not TracingConfig.from_env(env).enabled


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1", "OTEL_TRACES_SAMPLER_ARG": "lots"}, "between 0 and 1"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:1", "OTEL_TRACES_SAMPLER_ARG": "2"}, "tracing.ratio"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}, "http:// URL"),
    ],
)
def test_a_bad_value_is_one_sentence(env, says):
    with pytest.raises(TracingConfigError, match=says) as info:
        TracingConfig.from_env(env)
    assert "\n" not in str(info.value)


def test_the_batch_may_not_exceed_the_queue():
    with pytest.raises(ValueError, match="cannot exceed"):
        TracingConfig(max_queue_size=10, max_export_batch_size=20)
