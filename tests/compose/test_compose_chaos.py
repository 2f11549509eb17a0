"""Chaos against containers: every pattern at the edge and in the mesh, on the docker
compose ``edge-mesh`` (the committed compose file, plus the publish-all override).

The helpers are the chaos suite's (``tests/chaos/chaoslib.py``, through the ``chaos``
fixture of ``conftest.py``): ``chaos.call(where, service)`` is the gateway's call at the
edge, or ``storefront-1``'s call through its sidecar in the mesh; each scenario switches on
the pattern it is about (every other one is off) and most have a control arm with the
pattern off, whose failure is asserted. The faults are the container's own wherever that
says something a process fault cannot: ``docker pause`` of an app (a hung host behind a
live sidecar), ``docker kill`` of a pod or of the control plane, a pod disconnected from
the Docker network; Toxiproxy (in its own container) and the apps' misbehave knob where a
fault must be exact (a reset on every connection, a 503 on every call). The timeout,
retry, breaker and outlier scenarios are the ones the cluster runs too
(``tests/chaos/portable.py``); the rest are compose's own.

With ``GATEMESH_MTLS=strict`` (the compose tier's default) every hop from the gateway and
between sidecars is mutual TLS through Toxiproxy, so each toxic acts on encrypted bytes.

Counts are the compose file's: catalog 3, pricing 2, inventory 2, reviews 2, storefront 2,
orders 2. The gateway keeps its rate limit (100/s, burst 200 per key): the scenarios
send a few dozen calls each.
"""

from __future__ import annotations

import os
import time
import uuid

import portable
import pytest
from portable import EDGE, MESH, RETRY, TIMEOUT, attempts, endpoints, only, show

from gatemesh.faults.compose_backend import partition

WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
MARGIN_S = 0.7  # a loaded 2-core machine, plus docker-proxy on the client's published port
TTL_EXPIRY_S = 15.0  # a dead pod leaves the registry (TTL 3 s) and the proxies well within this

MTLS = os.environ.get("GATEMESH_MTLS", "off") != "off"  # the proxies' mode (the compose tier: strict)

pytestmark = [pytest.mark.compose, pytest.mark.chaos]


# ---------------------------------------------------------------------- the scenarios both tiers share


@pytest.mark.timeouts
@pytest.mark.parametrize("where", WHERE)
def test_timeout_bounds_calls_to_a_paused_app_container(chaos, where):
    """``docker pause pricing-1``: its sidecar still accepts, the app never answers."""
    portable.timeout_bounds_calls_to_a_paused_app(chaos, where, MARGIN_S)


@pytest.mark.timeouts
@pytest.mark.parametrize("where", WHERE)
def test_control_without_timeout_calls_hang_on_a_paused_app_container(chaos, where):
    portable.control_without_timeout_calls_hang(chaos, where)


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_retry_hides_connection_resets_from_one_instance(chaos, where):
    """Toxiproxy, in its own container, resets every connection into catalog-2."""
    portable.retry_hides_connection_resets(chaos, where)


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_control_without_retry_the_resets_reach_the_client(chaos, where):
    portable.control_without_retry_resets_reach_the_client(chaos, where)


@pytest.mark.breaker
@pytest.mark.parametrize("where", WHERE)
def test_breaker_opens_and_spares_a_failing_service(chaos, where):
    portable.breaker_opens_and_spares_the_service(chaos, where)


@pytest.mark.breaker
@pytest.mark.parametrize("where", WHERE)
def test_control_without_breaker_every_call_hits_the_failing_service(chaos, where):
    portable.control_without_breaker_every_call_hits_the_service(chaos, where)


@pytest.mark.outlier
@pytest.mark.parametrize("where", WHERE)
def test_outlier_ejection_stops_sending_to_the_failing_instance(chaos, where):
    portable.ejection_stops_sending_to_the_failing_instance(chaos, where)


@pytest.mark.outlier
@pytest.mark.parametrize("where", WHERE)
def test_control_without_ejection_the_failing_instance_keeps_its_share(chaos, where):
    portable.control_without_ejection_the_instance_keeps_its_share(chaos, where)


# ---------------------------------------------------------------------- discovery, balancing, failover


@pytest.mark.discovery
@pytest.mark.balancing
@pytest.mark.parametrize("where", WHERE)
def test_a_killed_pod_leaves_discovery_and_comes_back_when_started(chaos, where):
    """``docker kill catalog-1``: the pod's network goes with its app container, the
    sidecar's heartbeats stop, the registry expires the instance, the proxies stop
    balancing onto it; ``docker start`` (and the sidecar restarted into the new
    namespace) brings it back into the rotation."""
    chaos.set_policy(where, "catalog", only())
    chaos.faults.kill("catalog-1")
    took = chaos.wait_until(
        "catalog-1 leaves the proxy's endpoints",
        lambda: endpoints(chaos, where, "catalog") == {"catalog-2", "catalog-3"},
        TTL_EXPIRY_S,
    )
    results = [chaos.call(where, "catalog") for _ in range(6)]
    assert all(r.ok for r in results), show(results)
    assert {r.instance for r in results} == {"catalog-2", "catalog-3"}, show(results)
    assert took < TTL_EXPIRY_S

    chaos.backend.start("catalog-1")
    chaos.wait_until(
        "catalog-1 is balanced onto again", lambda: "catalog-1" in endpoints(chaos, where, "catalog"), TTL_EXPIRY_S
    )
    results = [chaos.call(where, "catalog") for _ in range(6)]
    assert all(r.ok for r in results) and {r.instance for r in results} == {"catalog-1", "catalog-2", "catalog-3"}


@pytest.mark.discovery
@pytest.mark.parametrize("where", WHERE)
def test_losing_the_control_plane_container_loses_no_traffic(chaos, where):
    """``docker kill controlplane``: proxies keep their last endpoints and policies; after
    ``docker start`` its state file (on the container's own volume) still has the mesh
    policies, and every instance registers again."""
    chaos.set_policy(MESH, "reviews", only(timeout=TIMEOUT))
    policy = chaos._json("GET", f"{chaos.controlplane}/v1/policies/reviews")
    chaos.faults.kill("controlplane")
    results = [chaos.call(where, "catalog") for _ in range(6)]
    assert all(r.ok for r in results), show(results)
    assert {r.instance for r in results} == {"catalog-1", "catalog-2", "catalog-3"}, show(results)

    chaos.backend.restart("controlplane")
    assert chaos._json("GET", f"{chaos.controlplane}/v1/policies/reviews") == policy
    chaos.wait_until(
        "every instance registered again", lambda: not chaos.backend.project.missing_registrations(), TTL_EXPIRY_S
    )


# ---------------------------------------------------------------------- degradation (a network partition)


def _page(chaos, where: str):
    if where == EDGE:  # composed at the gateway
        return chaos.request("GET", f"{chaos.gateway}/api/products/1", {"X-Api-Key": chaos.key})
    return chaos.call(MESH, "storefront")  # composed by a storefront, through its sidecar


PART_TIMEOUT_S = 1.0  # generous: the parts that are not cut off must never hit it
PART_TIMEOUT = {"enabled": True, "attempt_timeout_s": PART_TIMEOUT_S, "request_timeout_s": PART_TIMEOUT_S}


def _partition_with_timeouts(chaos, where: str, pods: tuple[str, ...]) -> None:
    """A partition is a black hole for a connection already open (no RST comes back), so
    the calls to the parts carry a timeout, as any caller of a remote part should."""
    for service in ("pricing", "reviews"):
        chaos.set_policy(where, service, only(timeout=PART_TIMEOUT))
    for pod in pods:
        partition(chaos.faults, pod)


@pytest.mark.degradation
@pytest.mark.parametrize("where", WHERE)
def test_partitioned_optional_service_degrades_the_page(chaos, where):
    """Both reviews pods disconnected from the Docker network: pages still come, without reviews."""
    _partition_with_timeouts(chaos, where, ("reviews-1", "reviews-2"))
    results = [_page(chaos, where) for _ in range(4)]

    assert all(r.status == 200 for r in results), show(results)
    assert all(r.body["degraded"] == ["reviews"] and r.body["product"]["id"] == 1 for r in results), show(results)
    assert all(r.elapsed_s <= 2 * PART_TIMEOUT_S + MARGIN_S for r in results), show(results)


@pytest.mark.degradation
@pytest.mark.parametrize("where", WHERE)
def test_control_partitioned_critical_service_fails_the_page(chaos, where):
    _partition_with_timeouts(chaos, where, ("pricing-1", "pricing-2"))
    results = [_page(chaos, where) for _ in range(4)]

    assert all(r.status == 503 for r in results), show(results)


# ---------------------------------------------------------------------- idempotent writes


def _cut_answers(chaos, instance: str) -> None:
    """``limit_data`` that loses ``instance``'s answer after the order is written: at once in
    plain HTTP; under mTLS past the server's handshake flight (``chaoslib.answer_cut_bytes``),
    else the cut falls in the handshake and the order is never sent at all."""
    chaos.faults.limit_data(instance, bytes=chaos.answer_cut_bytes(instance) if MTLS else 0)


def _order(chaos, where: str, key: str | None):
    headers = {"Idempotency-Key": key} if key else {}
    return chaos.call(where, "orders", "", "POST", json={"product_id": 3, "quantity": 1}, headers=headers)


def _orders_with_key(chaos, key: str) -> int:
    body = chaos.app_json("orders-2", "/orders")  # the app itself, with the admin token
    return sum(1 for o in body["orders"] if o.get("idempotency_key") == key)


@pytest.mark.idempotency
@pytest.mark.parametrize("where", WHERE)
def test_retried_post_with_idempotency_key_creates_one_order(chaos, where):
    """orders-1's answers are cut after the order is written; the retry lands on orders-2,
    which finds the key in the SQLite file both containers share (a named volume)."""
    chaos.set_policy(where, "orders", only(retry=RETRY))
    _cut_answers(chaos, "orders-1")
    keys = [f"compose-{uuid.uuid4()}" for _ in range(2)]
    results = [_order(chaos, where, k) for k in keys]

    assert all(r.status in (200, 201) for r in results), show(results)
    assert any(attempts(r) == 2 and r.status == 200 for r in results), show(results)  # a replay, not a new order
    assert [_orders_with_key(chaos, k) for k in keys] == [1, 1]


@pytest.mark.idempotency
@pytest.mark.parametrize("where", WHERE)
def test_control_post_without_key_is_not_retried(chaos, where):
    chaos.set_policy(where, "orders", only(retry=RETRY))
    _cut_answers(chaos, "orders-1")
    results = [_order(chaos, where, None) for _ in range(2)]

    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and attempts(failed[0]) == 1, show(results)


def test_scenarios_ran_against_containers(chaos):
    """Guard: the backend is the compose one, and the gateway answering is a container."""
    states = chaos.backend.project.states()
    assert states["gateway"] == "running" and len(states) >= 29
    started = time.monotonic()
    assert chaos.call(EDGE, "catalog").ok and time.monotonic() - started < 5
