"""Every metric a proxy exports, declared in one place (Envoy's habit).

Each proxy process owns one `ProxyMetrics` with its own registry.

The three metrics that move on every request (requests, attempts, latency) are plain
integers and floats in dicts, turned into Prometheus families only when `/metrics` is
scraped (`_HotCollector`): a prometheus_client Counter takes a lock and two Python calls
per increment, and a Histogram a loop over its buckets, which together were ~5% of a
proxy hop's CPU. The exposition is the same as prometheus_client's own (names, labels,
`_total`/`_created`, cumulative `le` buckets). The other metrics move on rare events
(a breaker transition, an ejection) and stay prometheus_client objects.

`gatemesh_connections` says which connections are mTLS: the TLS listener and the dialler
keep their counts (which `/-/mtls` shows too) and the collector reads them at scrape time,
every kind from the start, so a query sees 0 before the first one.

`gatemesh_breaker_state` has a series for every upstream (instance ``*``) and every
instance discovery has named, from the start (0 = closed; set by `Upstream`), not only
after a first transition: a dashboard or a Prometheus query shows a flat line before
anything trips. An instance that leaves discovery takes its series with it.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from .http import stats as http_stats

BREAKER_STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}

# Latency buckets in seconds: fine below 10 ms (a hop's own cost), coarse up to timeouts.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LE = [floatToGoString(b) for b in LATENCY_BUCKETS] + ["+Inf"]

REQUESTS = ("gatemesh_requests", "Requests by upstream service and outcome (ok, a status class, or a refusal reason).")
ATTEMPTS = ("gatemesh_upstream_attempts", "Attempts sent to an upstream instance, by result.")
LATENCY = ("gatemesh_request_duration_seconds", "Time from request to response head, per upstream service.")
HTTP_EVENTS = ("gatemesh_http_events", "HTTP core refusals and connection events by name (docs/http.md), this process.")
CONNECTIONS = (
    "gatemesh_connections",
    "Connections by direction and kind: inbound accepted (mtls, plain, refused-plain, refused-handshake), "
    "outbound dialled (mtls, plain). Counted by a proxy with a workload identity (--mtls permissive|strict).",
)


class _Count:
    __slots__ = ("value", "created")

    def __init__(self) -> None:
        self.value = 0
        self.created = time.time()


class _Latency:
    """One histogram child: a count per bucket (not cumulative; the collector sums)."""

    __slots__ = ("counts", "sum", "created")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.created = time.time()


class ProxyMetrics:
    def __init__(self, proxy: str):
        self.proxy = proxy
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests: dict[tuple[str, str], _Count] = {}
        self._attempts: dict[tuple[str, str, str], _Count] = {}
        self._latency: dict[str, _Latency] = {}
        # direction -> the kind -> count dict its TLS side keeps (security/tls.py, mesh_tls.py): read at scrape
        self.connections: dict[str, Mapping[str, int]] = {}
        self._connections_created = time.time()
        r.register(_HotCollector(self))
        self.retries = Counter(
            "gatemesh_retries", "Retries sent (attempts after the first).", ["proxy", "upstream"], registry=r
        )
        self.budget_refusals = Counter(
            "gatemesh_retry_budget_exhausted",
            "Retries not sent because the retry budget was empty.",
            ["proxy", "upstream"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "gatemesh_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open ('*' = the service-level breaker).",
            ["proxy", "upstream", "instance"],
            registry=r,
        )
        self.breaker_transitions = Counter(
            "gatemesh_breaker_transitions",
            "Circuit breaker transitions by target state.",
            ["proxy", "upstream", "instance", "to"],
            registry=r,
        )
        self.ejections = Counter(
            "gatemesh_outlier_ejections",
            "Outlier ejections (and capped ejections) per instance.",
            ["proxy", "upstream", "instance", "kind"],
            registry=r,
        )
        self.endpoints = Gauge(
            "gatemesh_endpoints", "Known endpoints per upstream service.", ["proxy", "upstream"], registry=r
        )
        self.panic_state = Gauge(
            "gatemesh_panic",
            "1 while too few endpoints are healthy and all are balanced over (panic threshold).",
            ["proxy", "upstream"],
            registry=r,
        )
        self.panic_picks = Counter(
            "gatemesh_panic_picks",
            "Endpoint picks made in panic, by scope (upstream, request).",
            ["proxy", "upstream", "scope"],
            registry=r,
        )
        self.fallbacks = Counter(
            "gatemesh_fallbacks", "Answers served from a fallback.", ["proxy", "upstream"], registry=r
        )

    # --- the per-request metrics -------------------------------------------------------
    def count_request(self, upstream: str, outcome: str) -> None:
        c = self._requests.get((upstream, outcome))
        if c is None:
            c = self._requests[(upstream, outcome)] = _Count()
        c.value += 1

    def count_attempt(self, upstream: str, instance: str, result: str) -> None:
        c = self._attempts.get((upstream, instance, result))
        if c is None:
            c = self._attempts[(upstream, instance, result)] = _Count()
        c.value += 1

    def observe_latency(self, upstream: str, seconds: float) -> None:
        h = self._latency.get(upstream)
        if h is None:
            h = self._latency[upstream] = _Latency()
        h.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # le: the first bound >= seconds
        h.sum += seconds

    def watch_connections(self, direction: str, counts: Mapping[str, int]) -> None:
        """Export ``counts`` (kept by whoever accepts or dials: no second count) as ``direction``."""
        self.connections[direction] = counts

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _HotCollector:
    """Turns ProxyMetrics' plain counters into Prometheus families at scrape time."""

    def __init__(self, metrics: ProxyMetrics):
        self._m = metrics

    def describe(self) -> list[Metric]:
        return []  # unchecked collector: its families appear once they have children

    def collect(self) -> Iterator[Metric]:
        m = self._m
        proxy = m.proxy
        requests = CounterMetricFamily(*REQUESTS, labels=["proxy", "upstream", "outcome"])
        for (upstream, outcome), c in list(m._requests.items()):
            requests.add_metric([proxy, upstream, outcome], c.value, created=c.created)
        yield requests
        attempts = CounterMetricFamily(*ATTEMPTS, labels=["proxy", "upstream", "instance", "result"])
        for (upstream, instance, result), c in list(m._attempts.items()):
            attempts.add_metric([proxy, upstream, instance, result], c.value, created=c.created)
        yield attempts
        latency = HistogramMetricFamily(*LATENCY, labels=["proxy", "upstream"])
        for upstream, h in list(m._latency.items()):
            cumulative, buckets = 0, []
            for le, n in zip(_LE, h.counts, strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            latency.add_metric([proxy, upstream], buckets, h.sum)
            latency.samples.append(Sample(LATENCY[0] + "_created", {"proxy": proxy, "upstream": upstream}, h.created))
        yield latency
        events = CounterMetricFamily(*HTTP_EVENTS, labels=["proxy", "event"])
        for event, (total, created) in list(http_stats.EVENTS.items()):
            events.add_metric([proxy, event], total, created=created)
        yield events
        if m.connections:
            conns = CounterMetricFamily(*CONNECTIONS, labels=["proxy", "direction", "kind"])
            for direction, counts in list(m.connections.items()):
                for kind, n in list(counts.items()):
                    conns.add_metric([proxy, direction, kind], n, created=m._connections_created)
            yield conns
