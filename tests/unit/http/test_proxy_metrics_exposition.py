"""The per-request metrics are plain counters rendered at scrape time; their exposition
must stay what prometheus_client's own Counter and Histogram would print."""

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from gatemesh.metrics import ATTEMPTS, LATENCY, LATENCY_BUCKETS, REQUESTS, ProxyMetrics


def _drive(count_request, count_attempt, observe):
    for _ in range(5):
        count_request("catalog", "ok")
    count_request("catalog", "timeout")
    count_request("pricing", "5xx")
    count_attempt("catalog", "catalog-1", "200")
    count_attempt("catalog", "catalog-2", "timeout")
    for seconds in (0.0001, 0.0005, 0.0007, 0.0025, 0.003, 0.2, 7.0, 11.0):  # incl. bucket edges and +Inf
        observe("catalog", seconds)
    observe("pricing", 0.01)


def _without_timestamps(text: str) -> list[str]:
    return [re.sub(r"(_created(\{[^}]*\})?) \S+$", r"\1 T", line) for line in text.splitlines()]


def test_exposition_matches_prometheus_client_objects():
    ours = ProxyMetrics("gateway")
    _drive(ours.count_request, ours.count_attempt, ours.observe_latency)

    r = CollectorRegistry()
    requests = Counter(*REQUESTS, ["proxy", "upstream", "outcome"], registry=r)
    attempts = Counter(*ATTEMPTS, ["proxy", "upstream", "instance", "result"], registry=r)
    latency = Histogram(*LATENCY, ["proxy", "upstream"], buckets=LATENCY_BUCKETS, registry=r)
    _drive(
        lambda u, o: requests.labels("gateway", u, o).inc(),
        lambda u, i, res: attempts.labels("gateway", u, i, res).inc(),
        lambda u, s: latency.labels("gateway", u).observe(s),
    )

    theirs = _without_timestamps(generate_latest(r).decode())
    mine = _without_timestamps(ours.exposition().decode())
    assert mine[: len(theirs)] == theirs  # the hot families come first, then the event-driven ones


def test_counts_are_exact():
    m = ProxyMetrics("sidecar:x")
    for _ in range(1000):
        m.count_request("svc", "ok")
        m.observe_latency("svc", 0.0004)
    text = m.exposition().decode()
    assert 'gatemesh_requests_total{outcome="ok",proxy="sidecar:x",upstream="svc"} 1000.0' in text
    assert 'gatemesh_request_duration_seconds_bucket{le="0.0005",proxy="sidecar:x",upstream="svc"} 1000.0' in text
    assert 'gatemesh_request_duration_seconds_count{proxy="sidecar:x",upstream="svc"} 1000.0' in text
