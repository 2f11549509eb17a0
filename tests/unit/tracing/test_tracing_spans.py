"""The spans a proxy records, on the real OpenTelemetry SDK (an in-memory exporter) and the
real pipeline over the fake pool: a server span per request, a client span per attempt
whose id travels upstream in traceparent, a refusal span with no attempt, sampling."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gatemesh import tracing
from gatemesh.http.messages import Request
from gatemesh.patterns.breaker import BreakerConfig
from gatemesh.patterns.retry import RetryConfig
from gatemesh.policy import all_off
from gatemesh.proxy import Proxy
from gatemesh.tracing.config import TracingConfig
from gatemesh.tracing.context import parse_traceparent

from fakepool import UpstreamReset, caller_with

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
RETRY = dataclasses.replace(all_off(), retry=RetryConfig(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.01))


def traced(policy, ratio: float = 1.0):
    caller, pool, clock = caller_with(policy, instances=2)
    exporter = InMemorySpanExporter()
    tracer = tracing.make_tracer(
        "test", TracingConfig(endpoint="http://127.0.0.1:9", ratio=ratio), "p", "p-1", exporter
    )
    caller.tracer = tracer
    handle = tracer.wrap(lambda req: Proxy("test", caller).forward(req, "svc", b"/x"))
    return handle, tracer, exporter, pool


def serve(handle, headers=()):
    req = Request(b"GET", b"/x", [(b"host", b"svc"), *headers], b"", peer="127.0.0.1")
    resp = asyncio.run(handle(req))
    return req, resp


def finished(tracer, exporter):
    tracer.provider.force_flush()
    return {s.name: s for s in exporter.get_finished_spans()}


def test_a_retried_call_has_a_server_span_and_one_client_span_per_attempt():
    handle, tracer, exporter, pool = traced(RETRY)
    pool.next(UpstreamReset("reset by peer"), 200)
    req, resp = serve(handle, [(b"traceparent", f"00-{TRACE}-00f067aa0ba902b7-01".encode())])
    assert resp.status == 200
    assert dict(resp.headers)[b"x-gatemesh-trace-id"] == TRACE.encode()
    spans = finished(tracer, exporter)
    server, first, second = spans["GET /x"], spans["GET svc #1"], spans["GET svc #2"]
    assert f"{server.context.trace_id:032x}" == TRACE and server.parent.span_id == 0x00F067AA0BA902B7
    assert first.parent.span_id == second.parent.span_id == server.context.span_id
    assert first.attributes["gatemesh.outcome"] == "error" and first.attributes["gatemesh.reason"] == "upstream-reset"
    assert second.attributes["gatemesh.outcome"] == "ok" and second.attributes["http.request.resend_count"] == 1
    assert second.attributes["gatemesh.tried"] == (first.attributes["gatemesh.instance"],)
    assert second.attributes["gatemesh.backoff_ms"] > 0
    # each attempt carried its own span upstream
    sent = [parse_traceparent(s.header(b"traceparent")) for s in pool.sent]
    assert [p.span_id for p in sent] == [first.context.span_id, second.context.span_id]  # type: ignore[union-attr]
    assert tracing.ids(req) == (TRACE, f"{server.context.span_id:016x}")


def test_a_call_refused_by_an_open_breaker_has_a_refusal_span_and_no_attempt():
    policy = dataclasses.replace(all_off(), breaker=BreakerConfig(consecutive_failures=1, open_s=60))
    handle, tracer, exporter, pool = traced(policy)
    pool.next(UpstreamReset("reset"))
    serve(handle)  # trips the service breaker
    assert "GET svc #1" in finished(tracer, exporter)
    exporter.clear()
    _, resp = serve(handle)
    assert resp.status == 503
    spans = finished(tracer, exporter)
    assert set(spans) == {"GET /x", "refused svc: circuit-open"}
    assert spans["refused svc: circuit-open"].attributes["gatemesh.reason"] == "circuit-open"


def test_control_a_failed_last_attempt_is_its_own_span_not_a_refusal():
    handle, tracer, exporter, pool = traced(all_off())
    pool.next(UpstreamReset("reset"))
    _, resp = serve(handle)
    assert resp.status == 502
    assert set(finished(tracer, exporter)) == {"GET /x", "GET svc #1"}


def test_an_unsampled_request_records_nothing_but_passes_the_context_on():
    handle, tracer, exporter, pool = traced(RETRY, ratio=0.0)
    req, resp = serve(handle)
    assert finished(tracer, exporter) == {}
    passed = parse_traceparent(pool.sent[0].header(b"traceparent"))
    assert passed is not None and not passed.sampled
    assert dict(resp.headers)[b"x-gatemesh-trace-id"] == b"%032x" % passed.trace_id
    assert tracing.ids(req) == ("", "")


def test_the_ratio_changes_at_runtime_through_the_admin_endpoint():
    handle, tracer, exporter, _ = traced(all_off(), ratio=0.0)
    put = Request(b"PUT", b"/-/tracing", [], json.dumps({"ratio": 1}).encode())
    resp = asyncio.run(handle(put))
    assert resp.status == 200 and json.loads(resp.body)["ratio"] == 1.0
    serve(handle)
    assert "GET /x" in finished(tracer, exporter)
    bad = asyncio.run(handle(Request(b"PUT", b"/-/tracing", [], b'{"ratio": 3}')))
    assert bad.status == 400 and "tracing.ratio" in json.loads(bad.body)["error"]


def test_a_malformed_traceparent_starts_a_new_trace_and_is_counted():
    handle, tracer, exporter, _ = traced(all_off())
    _, resp = serve(handle, [(b"traceparent", b"00-nonsense-01")])
    assert resp.status == 200 and tracer.malformed_traceparent == 1
    server = finished(tracer, exporter)["GET /x"]
    assert server.parent is None and server.attributes["gatemesh.traceparent.malformed"] == "00-nonsense-01"
