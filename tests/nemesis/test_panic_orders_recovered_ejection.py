"""Panic routing over real processes (issue 12, item 2): three seconds of reset_peer on
orders-2 get it ejected at the gateway for 30 s; it heals; 5 s later orders-1's sidecar is
killed for 4 s. With Envoy's panic threshold (the default, 50 %) the gateway falls back on
the ejected-but-recovered orders-2: 0 of 200 orders fail. Control arm, panic off
(``outlier.panic_threshold_percent=0``): the gateway keeps away from orders-2 and the
orders sent while orders-1 is dead fail (the issue measured 54 of 200, 49 circuit-open).
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections import Counter

import requests

from gatemesh.faults import Faults
from gatemesh.policy import Policy
from gatemesh.policy_client import PolicyClient
from gatemesh.runner import ProcessRunner

ORDERS = 200
THREADS = 4
ORDER_GAP_S = 0.12  # per thread: 4 threads x ~8 orders/s ≈ 200 orders over ~6 s
KILL_S = 4.0


def post_order(session: requests.Session, gateway: str, key: str) -> tuple[int, str]:
    try:
        r = session.post(
            f"{gateway}/api/orders",
            json={"product_id": 1, "quantity": 1},
            timeout=10,
            headers={"X-Api-Key": key, "Idempotency-Key": f"panic-{uuid.uuid4().hex}"},
        )
    except requests.RequestException as e:
        return 0, type(e).__name__
    return r.status_code, r.headers.get("X-Gatemesh-Reason", "")


def orders_while(runner: ProcessRunner, n: int, during) -> list[tuple[int, str]]:
    """Post ``n`` orders from THREADS threads while ``during()`` runs in this thread."""
    gateway, key = runner.topology.endpoints.gateway, runner.topology.api_key

    def worker(count: int) -> list[tuple[int, str]]:
        s, out = requests.Session(), []
        for _ in range(count):
            out.append(post_order(s, gateway, key))
            time.sleep(ORDER_GAP_S)
        return out

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker, n // THREADS) for _ in range(THREADS)]
        during()
        return [r for f in futures for r in f.result(timeout=120)]


def scenario(runner: ProcessRunner, panic_threshold_percent: float) -> tuple[list[tuple[int, str]], dict]:
    gateway = runner.topology.endpoints.gateway_admin  # /-/upstreams: on the gateway's admin listener
    policy = Policy().merged({"outlier": {"panic_threshold_percent": panic_threshold_percent}})
    PolicyClient.from_status(runner.status()).replace("orders", "edge", policy)  # the one policy writer
    faults = Faults.for_runner(runner)
    with faults.reset_peer("orders-2"):  # 1. orders-2 breaks for 3 s and is ejected
        orders_while(runner, 40, lambda: time.sleep(3.0))
    ups = requests.get(f"{gateway}/-/upstreams", timeout=5).json()["upstreams"]["orders"]
    assert ups["ejected"] == ["orders-2"], ups  # 2. healed, but still ejected (30 s)
    time.sleep(5.0)

    def kill_orders_1_sidecar() -> None:  # 3. orders-1's sidecar dies for 4 s
        time.sleep(0.5)
        kill = faults.kill("sidecar-orders-1")
        time.sleep(KILL_S)
        kill.remove()

    results = orders_while(runner, ORDERS, kill_orders_1_sidecar)
    ups = requests.get(f"{gateway}/-/upstreams", timeout=5).json()["upstreams"]["orders"]
    return results, ups


def test_panic_routing_sends_orders_to_the_recovered_ejected_instance(nemesis_topology):
    runner = nemesis_topology()
    results, ups = scenario(runner, 50.0)
    failed = Counter(f"{s} {reason}" for s, reason in results if not 200 <= s < 300)
    print(f"\npanic 50%: {len(results)} orders, {sum(failed.values())} failed {dict(failed)}; panic {ups['panic']}")
    assert len(results) == ORDERS and not failed, failed
    assert ups["panic"]["request_picks"] + ups["panic"]["upstream_picks"] > 0, ups
    events = requests.get(f"{runner.topology.endpoints.gateway_admin}/-/events?since=0", timeout=5).json()["events"]
    metrics = requests.get(f"{runner.topology.endpoints.gateway}/metrics", timeout=5).text
    assert "gatemesh_panic_picks_total" in metrics
    assert any(e["kind"] == "panic-entered" for e in events) or ups["panic"]["request_picks"] > 0


def test_control_arm_panic_off_the_orders_fail_while_orders_1_is_dead(nemesis_topology):
    runner = nemesis_topology()
    results, ups = scenario(runner, 0.0)
    failed = Counter(f"{s} {reason}" for s, reason in results if not 200 <= s < 300)
    print(f"\npanic off: {len(results)} orders, {sum(failed.values())} failed {dict(failed)}")
    assert sum(failed.values()) >= 5, failed
