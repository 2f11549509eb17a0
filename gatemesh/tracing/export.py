"""The OpenTelemetry SDK behind a proxy's spans: a `TracerProvider` whose finished spans
go through a `BatchSpanProcessor` (a bounded queue and a worker thread, so the event loop
never waits on the backend) to the OTLP/HTTP exporter.

A backend that is down or slow costs the traffic nothing: the export runs on the worker,
each request is bounded by `export_timeout_s`, and what the queue cannot hold is dropped.
Every dropped span is counted (`ExportCounts`), whether the queue was full or the export
failed, and shown on the proxy's /-/tracing and /metrics.

The sampler is parent-based (a caller's decision is kept) with a ratio for new traces
that can be changed at runtime (`RatioSampler.set`, from PUT /-/tracing).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

from .config import TracingConfig

# The SDK logs every failed export and every full queue; the counts say it once, in numbers.
for _quiet in ("opentelemetry.sdk._shared_internal", "opentelemetry.exporter.otlp.proto.http.trace_exporter"):
    logging.getLogger(_quiet).setLevel(logging.CRITICAL)


class ExportCounts:
    """Spans handed to export, exported, and dropped (queue full / export failed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the worker thread and the event loop both count
        self.ended = 0
        self.exported = 0
        self.dropped_queue_full = 0
        self.dropped_export_failed = 0

    def add(self, field: str, n: int) -> None:
        with self._lock:
            setattr(self, field, getattr(self, field) + n)

    def to_dict(self) -> dict[str, int]:
        return {
            "ended": self.ended,
            "exported": self.exported,
            "dropped_queue_full": self.dropped_queue_full,
            "dropped_export_failed": self.dropped_export_failed,
        }


class CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, counts: ExportCounts):
        self.inner = inner
        self.counts = counts

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:  # the exporter's own bug or an unexpected transport error: a drop, not a crash
            result = SpanExportResult.FAILURE
        self.counts.add("exported" if result is SpanExportResult.SUCCESS else "dropped_export_failed", len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CountingBatchProcessor(BatchSpanProcessor):
    """The SDK's batch processor, counting the spans its full queue pushes out."""

    def __init__(self, exporter: SpanExporter, counts: ExportCounts, cfg: TracingConfig):
        super().__init__(
            exporter,
            max_queue_size=cfg.max_queue_size,
            schedule_delay_millis=cfg.schedule_delay_s * 1000,
            max_export_batch_size=cfg.max_export_batch_size,
            export_timeout_millis=cfg.export_timeout_s * 1000,
        )
        self._counts = counts
        self._max_queue = cfg.max_queue_size

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context or not span.context.trace_flags.sampled:
            return
        self._counts.add("ended", 1)
        queue = getattr(self._batch_processor, "_queue", None)  # the SDK's deque; it drops the oldest when full
        if queue is not None and len(queue) >= self._max_queue:
            self._counts.add("dropped_queue_full", 1)
        super().on_end(span)


class RatioSampler:
    """The share of new traces sampled, changeable while the process runs. The tracer asks
    it before calling the SDK at all, so an unsampled request never pays for the SDK's
    span machinery (tracer.py); the SDK's own sampler then records what reaches it."""

    def __init__(self, ratio: float, rng: random.Random | None = None):
        self.ratio = ratio
        self._random = (rng or random.Random()).random

    def set(self, ratio: float) -> None:
        self.ratio = ratio  # one float store: safe against a concurrent read

    def sample_root(self) -> bool:
        return self._random() < self.ratio


def build_provider(
    cfg: TracingConfig, service: str, instance: str, exporter: SpanExporter | None = None
) -> tuple[TracerProvider, RatioSampler, ExportCounts]:
    """A provider for one proxy process, exporting to `cfg.endpoint` (or to `exporter`)."""
    ratio = RatioSampler(cfg.ratio)
    counts = ExportCounts()
    provider = TracerProvider(
        # A root reaches the SDK only when RatioSampler chose it; a caller's decision is kept.
        sampler=ParentBased(root=ALWAYS_ON),
        resource=Resource.create({"service.name": service, "service.instance.id": instance}),
        shutdown_on_exit=False,  # the shell flushes, bounded (Tracer.close); an atexit flush would not be
    )
    inner = exporter or OTLPSpanExporter(endpoint=f"{cfg.endpoint}/v1/traces", timeout=cfg.export_timeout_s)
    provider.add_span_processor(CountingBatchProcessor(CountingExporter(inner, counts), counts, cfg))
    return provider, ratio, counts
