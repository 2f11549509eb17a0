"""How a proxy traces: where spans go, how many requests are sampled, how much may wait.

Read at the process edge from OpenTelemetry's own environment variables, so the proxies
and the sample services (which use the SDK's own configuration) are set up by one set:

  OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP base URL (http://127.0.0.1:4318); unset: tracing off
  OTEL_TRACES_SAMPLER_ARG      the ratio of new traces sampled (0..1); 1 by default here
  OTEL_BSP_SCHEDULE_DELAY      ms between exports (the batch processor's own variable); 500 here
  GATEMESH_TRACING=off         tracing off even with an endpoint (the benchmark's "off" row)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gatemesh.patterns.validate import check_int, check_number

# The tracer's admin path, here (no OpenTelemetry import) so the shell can route it without
# loading the SDK. GET: the tracing state; PUT {"ratio": 0.01}: the sampling ratio.
TRACING_PATH = b"/-/tracing"

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
RATIO_ENV = "OTEL_TRACES_SAMPLER_ARG"
SWITCH_ENV = "GATEMESH_TRACING"
DELAY_ENV = "OTEL_BSP_SCHEDULE_DELAY"


class TracingConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TracingConfig:
    endpoint: str = ""  # OTLP/HTTP base URL; empty = off (the SDK's own rule: no endpoint, no exporter)
    ratio: float = 1.0  # new traces sampled; 100% for the demo (the SDK default, parentbased_always_on)
    max_queue_size: int = 2048  # spans waiting for export; the SDK's BatchSpanProcessor default
    max_export_batch_size: int = 512  # spans per OTLP request; the SDK default
    schedule_delay_s: float = 0.5  # between exports; the SDK's 5 s is too slow to look a call up
    export_timeout_s: float = 2.0  # one OTLP request (the SDK's 10 s): a dead backend frees the worker sooner

    def __post_init__(self) -> None:
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise TracingConfigError(f"the OTLP endpoint must be an http:// URL, got {self.endpoint!r}")
        check_number("tracing.ratio", self.ratio, 0, 1)
        check_int("tracing.max_queue_size", self.max_queue_size, 1, 1_000_000)
        check_int("tracing.max_export_batch_size", self.max_export_batch_size, 1, 1_000_000)
        if self.max_export_batch_size > self.max_queue_size:
            raise TracingConfigError("tracing.max_export_batch_size cannot exceed tracing.max_queue_size")
        check_number("tracing.schedule_delay_s", self.schedule_delay_s, 0, 3600, lo_open=True, what="seconds")
        check_number("tracing.export_timeout_s", self.export_timeout_s, 0, 60, lo_open=True, what="seconds")

    @property
    def enabled(self) -> bool:
        return bool(self.endpoint)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TracingConfig:
        """The process's tracing from its environment; one sentence on a bad value."""
        if env.get(SWITCH_ENV, "").lower() in ("off", "0", "false", "no"):
            return cls()
        raw = env.get(RATIO_ENV, "1")
        try:
            ratio = float(raw)
        except ValueError:
            raise TracingConfigError(f"{RATIO_ENV} must be a number between 0 and 1, got {raw!r}") from None
        delay = env.get(DELAY_ENV, "500")
        try:
            delay_s = float(delay) / 1000
        except ValueError:
            raise TracingConfigError(f"{DELAY_ENV} must be a number of milliseconds, got {delay!r}") from None
        try:
            return cls(endpoint=env.get(ENDPOINT_ENV, "").rstrip("/"), ratio=ratio, schedule_delay_s=delay_s)
        except ValueError as exc:
            raise TracingConfigError(str(exc)) from None
