"""The observers in containers: the compose file's Prometheus scrapes every proxy and the
control plane with every target up, and Jaeger's query API answers, both on the host's
127.0.0.1 only. Runs against the compose tier's edge-mesh (scripts/compose-tier.sh)."""

from __future__ import annotations

import os
import time

import pytest
import requests

from gatemesh.compose.observability import JAEGER_UI_PORT, PROMETHEUS_PORT
from gatemesh.topology import build_topology
from gatemesh.topology.prometheus import targets

pytestmark = pytest.mark.compose

PROMETHEUS = f"http://127.0.0.1:{PROMETHEUS_PORT}"
JAEGER = f"http://127.0.0.1:{JAEGER_UI_PORT}"
WAIT_S = 60.0  # a first scrape of every container (2 s interval) once all are healthy


@pytest.fixture(scope="module")
def compose_up(request: pytest.FixtureRequest) -> None:
    """The compose tier's edge-mesh, every container healthy (no chaos machinery needed)."""
    from gatemesh.compose.project import ComposeProject, ProjectError

    try:
        option = request.config.getoption("--runner")
    except ValueError:
        option = None
    if (option or os.environ.get("GATEMESH_RUNNER", "process")) != "compose":
        pytest.skip("needs a running compose edge-mesh: GATEMESH_RUNNER=compose (scripts/compose-tier.sh)")
    try:
        ComposeProject("edge-mesh", os.environ.get("GATEMESH_COMPOSE_PROJECT") or None).wait_ready(180)
    except ProjectError as e:
        pytest.fail(f"no ready compose edge-mesh: {e}", pytrace=False)


def test_prometheus_in_compose_scrapes_every_proxy_and_every_target_is_up(compose_up: None) -> None:
    want = {name for name, _, _ in targets(build_topology("edge-mesh").components)}
    deadline = time.monotonic() + WAIT_S
    while True:
        body = requests.get(f"{PROMETHEUS}/api/v1/targets?state=active", timeout=5).json()
        active = body["data"]["activeTargets"]
        health = {t["labels"]["instance"]: t["health"] for t in active}
        if set(health) == want and set(health.values()) == {"up"}:
            break
        assert time.monotonic() < deadline, f"targets not all up after {WAIT_S}s: {health}"
        time.sleep(1.0)
    # the breaker state of every instance is there before anything trips (0 = closed)
    query = 'gatemesh_breaker_state{proxy="gateway",upstream="catalog"}'
    result = requests.get(f"{PROMETHEUS}/api/v1/query", params={"query": query}, timeout=5).json()["data"]["result"]
    assert {r["metric"]["instance"] for r in result} >= {"*", "catalog-1", "catalog-2", "catalog-3"}, result


def test_jaeger_in_compose_answers_its_query_api(compose_up: None) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            resp = requests.get(f"{JAEGER}/api/services", timeout=5)
            if resp.status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"Jaeger's query API at {JAEGER} did not answer within {WAIT_S}s"
        time.sleep(1.0)
    body = resp.json()
    assert body.get("errors") is None and isinstance(body.get("total"), int), body  # its answer's shape
    assert len(body["data"] or []) == body["total"]  # null while no service has sent a span yet
    assert requests.get(f"{JAEGER}/", timeout=5).status_code == 200  # the UI


def test_the_proxies_in_compose_export_their_spans_to_jaeger(compose_up: None) -> None:
    """A call through the gateway container: its spans reach the jaeger service over OTLP."""
    gateway = build_topology("edge-mesh").endpoints.gateway
    assert requests.get(f"{gateway}/api/catalog/1", headers={"X-Api-Key": "demo-key"}, timeout=5).status_code == 200
    deadline = time.monotonic() + WAIT_S
    while True:
        services = requests.get(f"{JAEGER}/api/services", timeout=5).json()["data"] or []
        if "gateway" in services:
            break
        assert time.monotonic() < deadline, f"no gateway spans in Jaeger after {WAIT_S}s; its services: {services}"
        time.sleep(1.0)
