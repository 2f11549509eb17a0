"""gatemesh.dashboard.traceview's drawing: refusals marked, span events as ticks, a bad id
one sentence with its status."""

from __future__ import annotations

import asyncio

import pytest

from gatemesh.dashboard.parts import Parts
from gatemesh.dashboard.traceview import TraceError, Traces, render
from gatemesh.tracing.waterfall import layout


def test_a_refusal_row_is_marked_and_an_event_is_a_tick_with_its_name():
    server = {
        "traceID": "ab" * 16, "spanID": "a", "operationName": "GET /api/catalog/1", "startTime": 0,
        "duration": 1000, "service": "gateway", "process_tags": {},
        "tags": [{"key": "span.kind", "value": "server"}],
        "logs": [{"timestamp": 400, "fields": [{"key": "event", "value": "breaker-open"}]}],
    }  # fmt: skip
    refusal = {
        "traceID": "ab" * 16, "spanID": "b", "operationName": "refused catalog: circuit-open",
        "references": [{"refType": "CHILD_OF", "spanID": "a"}], "startTime": 100, "duration": 10,
        "service": "gateway", "process_tags": {},
        "tags": [{"key": "gatemesh.refusal", "value": True}, {"key": "gatemesh.reason", "value": "circuit-open"}],
    }  # fmt: skip
    html = render(layout([server, refusal]))
    assert '<tr class="refusal"' in html and "REFUSED (circuit-open), no attempt" in html
    assert '<g class="tick">' in html and "breaker-open at 0.4 ms" in html and "<th>events</th>" in html


@pytest.mark.parametrize(
    ("raw", "jaeger", "status", "says"),
    [
        ("zz", "http://127.0.0.1:1", 400, "32 hex digits"),
        ("ab12", None, 503, "no Jaeger"),
        ("ab12", "http://127.0.0.1:1", 503, "not answering"),  # nothing listens on port 1
    ],
    ids=["malformed", "run-without-jaeger", "jaeger-down"],
)
def test_a_malformed_id_or_no_jaeger_is_a_status_and_a_sentence(raw, jaeger, status, says):
    async def parts() -> Parts:
        return Parts({"jaeger": jaeger} if jaeger else {})

    with pytest.raises(TraceError) as e:
        asyncio.run(Traces(parts).waterfall(raw))
    assert e.value.status == status and says in str(e.value) and "\n" not in str(e.value)
