"""The proxies' Prometheus text, read as numbers, and rates from two reads a second apart.

Only the families the picture needs are kept (requests, attempts, latency buckets,
retries, budget refusals); parsing uses prometheus_client's own parser.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, ...]


@dataclass
class Counters:
    """One proxy's counters at one moment."""

    requests: dict[Key, float] = field(default_factory=dict)  # (upstream, outcome)
    attempts: dict[Key, float] = field(default_factory=dict)  # (upstream, instance, result)
    buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # upstream -> [(le, cumulative)]
    retries: dict[str, float] = field(default_factory=dict)  # upstream
    budget_refusals: dict[str, float] = field(default_factory=dict)


def parse(text: str) -> Counters:
    c = Counters()
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = s.labels
            if s.name == "gatemesh_requests_total":
                c.requests[(labels["upstream"], labels["outcome"])] = s.value
            elif s.name == "gatemesh_upstream_attempts_total":
                c.attempts[(labels["upstream"], labels["instance"], labels["result"])] = s.value
            elif s.name == "gatemesh_request_duration_seconds_bucket":
                buckets[labels["upstream"]].append((float(labels["le"]), s.value))
            elif s.name == "gatemesh_retries_total":
                c.retries[labels["upstream"]] = s.value
            elif s.name == "gatemesh_retry_budget_exhausted_total":
                c.budget_refusals[labels["upstream"]] = s.value
    c.buckets = {u: sorted(b) for u, b in buckets.items()}
    return c


def delta(new: dict[Key, float] | dict[str, float], old: dict | None) -> dict:
    """Per-key increase; a counter that went down (the proxy restarted) counts from zero."""
    old = old or {}
    out = {}
    for k, v in new.items():
        before = old.get(k, 0.0)
        out[k] = v - before if v >= before else v
    return out


def quantile(new: list[tuple[float, float]], old: list[tuple[float, float]] | None, q: float) -> float | None:
    """The q-quantile (seconds) of the observations between two reads of a cumulative
    histogram, interpolated inside its bucket as Prometheus' histogram_quantile does."""
    before = dict(old or [])
    counts = [(le, cum - before.get(le, 0.0)) for le, cum in new]
    if counts and counts[-1][1] < 0:  # restarted
        counts = list(new)
    if not counts or counts[-1][1] <= 0:
        return None
    total = counts[-1][1]
    rank = q * total
    prev_le, prev_cum = 0.0, 0.0
    for le, cum in counts:
        if cum >= rank:
            if le == float("inf"):
                return prev_le
            span = cum - prev_cum
            return prev_le + (le - prev_le) * ((rank - prev_cum) / span if span > 0 else 1.0)
        prev_le, prev_cum = le, cum
    return prev_le
