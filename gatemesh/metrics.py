"""Every metric a proxy exports, declared in one place (Envoy's habit).

Each proxy process owns one `ProxyMetrics` with its own registry. Labelled children are
cached in dicts: `Counter.labels()` takes a lock and builds a key each call, which is
measurable on a path that runs per request.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BREAKER_STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}

# Latency buckets in seconds: fine below 10 ms (a hop's own cost), coarse up to timeouts.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProxyMetrics:
    def __init__(self, proxy: str):
        self.proxy = proxy
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("gatemesh_requests", "Requests by upstream service and outcome (ok, a status class, or a refusal reason).",
                                ["proxy", "upstream", "outcome"], registry=r)
        self.attempts = Counter("gatemesh_upstream_attempts", "Attempts sent to an upstream instance, by result.",
                                ["proxy", "upstream", "instance", "result"], registry=r)
        self.latency = Histogram("gatemesh_request_duration_seconds", "Time from request to response head, per upstream service.",
                                 ["proxy", "upstream"], buckets=LATENCY_BUCKETS, registry=r)
        self.retries = Counter("gatemesh_retries", "Retries sent (attempts after the first).", ["proxy", "upstream"], registry=r)
        self.budget_refusals = Counter("gatemesh_retry_budget_exhausted", "Retries not sent because the retry budget was empty.",
                                       ["proxy", "upstream"], registry=r)
        self.breaker_state = Gauge("gatemesh_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open ('*' = the service-level breaker).",
                                   ["proxy", "upstream", "instance"], registry=r)
        self.breaker_transitions = Counter("gatemesh_breaker_transitions", "Circuit breaker transitions by target state.",
                                           ["proxy", "upstream", "instance", "to"], registry=r)
        self.ejections = Counter("gatemesh_outlier_ejections", "Outlier ejections (and capped ejections) per instance.",
                                 ["proxy", "upstream", "instance", "kind"], registry=r)
        self.endpoints = Gauge("gatemesh_endpoints", "Known endpoints per upstream service.", ["proxy", "upstream"], registry=r)
        self.fallbacks = Counter("gatemesh_fallbacks", "Answers served from a fallback.", ["proxy", "upstream"], registry=r)
        self._request_children: dict[tuple[str, str], object] = {}
        self._attempt_children: dict[tuple[str, str, str], object] = {}
        self._latency_children: dict[str, object] = {}

    def count_request(self, upstream: str, outcome: str) -> None:
        key = (upstream, outcome)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(self.proxy, upstream, outcome)
        child.inc()

    def count_attempt(self, upstream: str, instance: str, result: str) -> None:
        key = (upstream, instance, result)
        child = self._attempt_children.get(key)
        if child is None:
            child = self._attempt_children[key] = self.attempts.labels(self.proxy, upstream, instance, result)
        child.inc()

    def observe_latency(self, upstream: str, seconds: float) -> None:
        child = self._latency_children.get(upstream)
        if child is None:
            child = self._latency_children[upstream] = self.latency.labels(self.proxy, upstream)
        child.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
