"""gatemesh_breaker_state has a series for every upstream and instance from the start
(0 = closed), before any transition; a departed instance takes its series with it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gatemesh.discovery import Endpoint
from gatemesh.pipeline import ResilientCaller
from gatemesh.policy import PolicyTable


def breaker_series(caller: ResilientCaller) -> dict[tuple[str, str], float]:
    text = caller.metrics.exposition().decode()
    return {
        (s.labels["upstream"], s.labels["instance"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "gatemesh_breaker_state"
        for s in family.samples
    }


def endpoints(*ids: str) -> list[Endpoint]:
    return [Endpoint(i, "192.0.2.1", 18000 + n, {}) for n, i in enumerate(ids)]


def test_every_upstream_and_instance_is_closed_before_any_trip() -> None:
    caller = ResilientCaller("gateway", PolicyTable.from_dict({}))
    assert breaker_series(caller) == {}  # nothing known yet: nothing to draw
    caller.update_endpoints({"catalog": endpoints("catalog-1", "catalog-2"), "pricing": []})
    assert breaker_series(caller) == {
        ("catalog", "*"): 0.0,
        ("catalog", "catalog-1"): 0.0,
        ("catalog", "catalog-2"): 0.0,
        ("pricing", "*"): 0.0,
    }


def test_a_departed_instance_takes_its_series_with_it() -> None:
    caller = ResilientCaller("gateway", PolicyTable.from_dict({}))
    caller.update_endpoints({"catalog": endpoints("catalog-1", "catalog-2")})
    caller.update_endpoints({"catalog": endpoints("catalog-2")})
    assert breaker_series(caller) == {("catalog", "*"): 0.0, ("catalog", "catalog-2"): 0.0}
