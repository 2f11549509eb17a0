"""Prometheus text, parsed into flat samples, and sums over them by label."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True, slots=True)
class Sample:
    name: str  # as exposed, e.g. gatemesh_upstream_attempts_total
    labels: Mapping[str, str]
    value: float


Samples = list[Sample]


def parse(text: str) -> Samples:
    return [
        Sample(s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def total(
    samples: Iterable[Sample], name: str, where: Callable[[Mapping[str, str]], bool] | None = None, **labels: str
) -> float:
    """Sum of ``name`` over the samples whose labels match ``labels`` (and ``where``)."""
    out = 0.0
    for s in samples:
        if s.name != name:
            continue
        if any(s.labels.get(k) != v for k, v in labels.items()):
            continue
        if where is not None and not where(s.labels):
            continue
        out += s.value
    return out


def total_over(
    snapshot: Mapping[str, Samples], name: str, where: Callable[[Mapping[str, str]], bool] | None = None, **labels: str
) -> float:
    """``total`` summed over every proxy of a scrape (``Lab.scrape``)."""
    return sum(total(samples, name, where, **labels) for samples in snapshot.values())
