"""gatemesh.tracing.waterfall: Jaeger's spans (as JaegerQuery flattens them) into rows."""

from __future__ import annotations

from gatemesh.tracing.waterfall import layout


def span(sid, parent, start, dur, service, **tags):
    refs = [{"refType": "CHILD_OF", "spanID": parent}] if parent else []
    return {
        "traceID": "ab" * 16,
        "spanID": sid,
        "operationName": tags.pop("op", "op"),
        "references": refs,
        "startTime": start,
        "duration": dur,
        "service": service,
        "process_tags": {},
        "tags": [{"key": k.replace("_", "."), "value": v} for k, v in tags.items()],
        "logs": tags.pop("logs", None) or [],
    }


def test_rows_follow_the_tree_with_attempts_in_order_and_offsets_from_the_first_span():
    spans = [
        span("c", "a", 1_300, 400, "gateway", gatemesh_attempt=2, gatemesh_outcome="ok"),
        span(
            "b",
            "a",
            1_100,
            100,
            "gateway",
            gatemesh_attempt=1,
            gatemesh_outcome="error",
            gatemesh_reason="upstream-reset",
        ),
        span("a", "client-span-not-here", 1_000, 800, "gateway", span_kind="server"),
        span("d", "c", 1_350, 300, "catalog"),
    ]
    w = layout(spans)
    assert w is not None and w.duration_us == 800
    assert [(r.span_id, r.depth) for r in w.rows] == [("a", 0), ("b", 1), ("c", 1), ("d", 2)]
    assert [r.attempt for r in w.rows] == [None, 1, 2, None]
    assert w.rows[1].reason == "upstream-reset" and w.rows[1].start_us == 100


def test_span_events_become_ticks_and_no_spans_no_waterfall():
    s = span("a", None, 0, 10, "gateway")
    s["logs"] = [{"timestamp": 4, "fields": [{"key": "event", "value": "breaker-open"}]}]
    assert layout([s]).rows[0].events == [(4.0, "breaker-open")]
    assert layout([]) is None
