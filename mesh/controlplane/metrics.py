"""Control-plane metrics, every name in one place, on the app's own registry.

Gauges and event counts are read from the store at scrape time (nothing to keep in sync
on the write path); only HTTP requests are counted as they happen.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from mesh.controlplane.store import Store

INDEX = "gatemesh_controlplane_index"
INSTANCES = "gatemesh_controlplane_instances"
POLICIES = "gatemesh_controlplane_policies"
WATCHERS = "gatemesh_controlplane_watchers"
EVENTS = "gatemesh_controlplane_events"
HTTP_REQUESTS = "gatemesh_controlplane_http_requests"


class _StoreCollector:
    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self):
        s = self._store
        yield GaugeMetricFamily(INDEX, "Global change index of the control plane.", value=s.index)
        instances = GaugeMetricFamily(INSTANCES, "Registered instances per service.", labels=["service"])
        for service, n in sorted(s.registry.count().items()):
            instances.add_metric([service], n)
        yield instances
        yield GaugeMetricFamily(POLICIES, "Services with a mesh policy set.", value=len(s.policies))
        yield GaugeMetricFamily(WATCHERS, "Snapshot long-polls waiting right now.", value=s.waiting)
        events = CounterMetricFamily(EVENTS, "Control-plane events by kind.", labels=["kind"])
        for kind, n in sorted(s.event_counts.items()):
            events.add_metric([kind], n)
        yield events


class Metrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self.http_requests = Counter(
            HTTP_REQUESTS,
            "HTTP requests served, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
