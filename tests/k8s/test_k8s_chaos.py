"""Chaos on the cluster built here: every pattern at the edge and in the mesh, on
``edge-mesh`` deployed from k8s/edge-mesh.yaml (scripts/k8s-tier.sh), with the faults
Kubernetes has: a pod killed and deleted (its StatefulSet makes it again), a container
paused or killed through the runtime, and Toxiproxy (a Deployment) and the apps'
misbehave knob for the exact faults. Each scenario switches on the pattern it is about
(every other one off) and has a control arm, the same fault with the pattern off, whose
failure is asserted.

The helpers are the chaos suite's (tests/chaos/chaoslib.py) through the ``chaos`` fixture
of conftest.py; the timeout, retry, breaker and outlier scenarios are the ones the compose
tier runs too (tests/chaos/portable.py). Counts are the manifest's: catalog 3, pricing 2, the others 2.
"""

from __future__ import annotations

import threading
import time

import portable
import pytest
from portable import EDGE, MESH, RETRY, attempts, endpoints, only, show

WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
MARGIN_S = 0.7  # a loaded 2-core machine running a cluster
TTL_EXPIRY_S = 20.0  # a dead pod leaves the registry (TTL 3 s) and the proxies well within this
LOAD_CALLS = 3000  # the load while a pod is deleted: bounded in count ...
LOAD_LIMIT_S = 40.0  # ... and in time
WARM_CALLS = 50  # calls before the pod goes
AFTER_S = 6.0  # the load goes on this long after the pod was deleted: past the registry's TTL

pytestmark = [pytest.mark.k8s, pytest.mark.chaos]


# ---------------------------------------------------------------------- the product page


def test_the_product_page_is_answered_through_the_entry_spread_over_the_catalog_pods(chaos):
    pages = [
        chaos.request("GET", f"{chaos.gateway}/api/products/{i % 3 + 1}", {"X-Api-Key": chaos.key}) for i in range(9)
    ]
    assert all(r.status == 200 and r.body["product"]["id"] for r in pages), show(pages)
    calls = [chaos.call(EDGE, "catalog") for _ in range(9)]
    assert {r.instance for r in calls} == {"catalog-1", "catalog-2", "catalog-3"}, show(calls)


# ---------------------------------------------------------------------- a pod deleted under load


def _load_while_deleting(chaos, where: str, pod: str) -> list:
    """A bounded load of catalog calls; ``pod`` is killed and deleted after WARM_CALLS, and
    the load goes on for AFTER_S more (the instance is still registered for its TTL)."""
    results: list = []
    stop = threading.Event()

    def load() -> None:
        deadline = time.monotonic() + LOAD_LIMIT_S
        for _ in range(LOAD_CALLS):
            if stop.is_set() or time.monotonic() > deadline:
                return
            results.append(chaos.call(where, "catalog", timeout_s=5.0))

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    chaos.wait_until("the load has started", lambda: len(results) >= WARM_CALLS, LOAD_LIMIT_S)
    chaos.backend.delete_pod(pod)
    time.sleep(AFTER_S)
    stop.set()
    worker.join(LOAD_LIMIT_S + 10)
    return results


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_retry_hides_a_catalog_pod_deleted_under_load(chaos, where):
    chaos.set_policy(where, "catalog", only(retry=RETRY))
    results = _load_while_deleting(chaos, where, "catalog-2")

    assert len(results) >= 2 * WARM_CALLS, f"only {len(results)} calls"
    failed = [r for r in results if not r.ok]
    assert not failed, f"{len(failed)} of {len(results)} calls failed:" + show(failed[:10])
    assert any(attempts(r) >= 2 for r in results), "no call needed its retry"
    chaos.backend.wait_ready("catalog-2")
    chaos.wait_until("catalog-2 is back", lambda: "catalog-2" in endpoints(chaos, where, "catalog"), TTL_EXPIRY_S)


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_control_without_retry_a_deleted_pod_shows_errors(chaos, where):
    chaos.set_policy(where, "catalog", only())
    results = _load_while_deleting(chaos, where, "catalog-2")

    failed = [r for r in results if not r.ok]
    assert failed and all(r.status in (0, 502, 503, 504) for r in failed), show(failed[:10])
    chaos.backend.wait_ready("catalog-2")


# ---------------------------------------------------------------------- the scenarios both tiers share


@pytest.mark.timeouts
@pytest.mark.parametrize("where", WHERE)
def test_timeout_bounds_calls_to_a_paused_app_container(chaos, where):
    """pricing-1's app container frozen through the runtime; its sidecar still accepts."""
    portable.timeout_bounds_calls_to_a_paused_app(chaos, where, MARGIN_S)


@pytest.mark.timeouts
@pytest.mark.parametrize("where", WHERE)
def test_control_without_timeout_calls_hang_on_a_paused_app_container(chaos, where):
    portable.control_without_timeout_calls_hang(chaos, where)


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_retry_hides_connection_resets_from_one_instance(chaos, where):
    """Toxiproxy, a Deployment of its own, resets every connection into catalog-2."""
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


# ---------------------------------------------------------------------- discovery and scale


@pytest.mark.discovery
@pytest.mark.parametrize("where", WHERE)
def test_a_frozen_sidecar_leaves_discovery_and_a_restart_brings_it_back(chaos, where):
    """catalog-1's sidecar frozen through the runtime: heartbeats stop, the registry
    expires the instance; killed (the kubelet restarts it), it registers again."""
    chaos.set_policy(where, "catalog", only())
    chaos.backend.pause("sidecar-catalog-1")  # frozen: no heartbeats, no answers
    chaos.wait_until(
        "catalog-1 leaves the proxy's endpoints",
        lambda: endpoints(chaos, where, "catalog") == {"catalog-2", "catalog-3"},
        TTL_EXPIRY_S,
    )
    results = [chaos.call(where, "catalog") for _ in range(6)]
    assert all(r.ok for r in results) and {r.instance for r in results} == {"catalog-2", "catalog-3"}, show(results)
    chaos.backend.restart("sidecar-catalog-1")
    chaos.wait_until("catalog-1 is back", lambda: "catalog-1" in endpoints(chaos, where, "catalog"), TTL_EXPIRY_S)


@pytest.mark.discovery
def test_scale_adds_a_pod_that_registers_and_takes_traffic(chaos):
    """``gatemesh scale catalog 4`` on the cluster: the StatefulSet makes catalog-4,
    Toxiproxy gets its proxy, it registers and the gateway balances onto it."""
    chaos.backend.scale("catalog", 4)
    chaos.wait_until(
        "catalog-4 in the gateway's endpoints", lambda: "catalog-4" in endpoints(chaos, EDGE, "catalog"), TTL_EXPIRY_S
    )
    results = [chaos.call(EDGE, "catalog") for _ in range(12)]
    assert "catalog-4" in {r.instance for r in results}, show(results)
    # the chaos fixture's reset scales it back to 3
