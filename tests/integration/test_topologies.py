"""Each topology started for real (processes, real Toxiproxy) answers at its entry point,
and leaves no process behind once stopped."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections import Counter

import pytest
import requests

from gatemesh.runner import ProcessRunner, RunnerError
from gatemesh.topology import PortPlan, build_topology

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMALL = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
KEY = {"X-Api-Key": "demo-key"}
READY_S = 15.0  # discovery reaches the proxies within a second or two; this is the bound


def get_when_ready(url: str, headers: dict | None = None, timeout_s: float = READY_S) -> requests.Response:
    """GET until 200 (the proxies learn the instances from the control plane asynchronously)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            resp = requests.get(url, headers=headers, timeout=5)
            if resp.status_code == 200:
                return resp
            last = f"{resp.status_code} {resp.headers.get('X-Gatemesh-Reason')} {resp.text[:200]}"
        except requests.RequestException as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"GET {url} never answered 200 within {timeout_s}s; last: {last}")


def assert_all_gone(runner: ProcessRunner, pid_alive) -> None:
    runner.stop()
    alive = [f"{e['name']} (pid {e['pid']})" for e in runner.started if pid_alive(e["pid"])]
    assert not alive, f"still running after stop: {alive}"


def test_edge_gateway_calls_instances_directly(topology_factory, pid_alive):
    runner = topology_factory("edge", counts=SMALL)
    gw = runner.topology.endpoints.gateway
    body = get_when_ready(f"{gw}/api/products/1", KEY).json()
    assert body["product"]["id"] == 1 and body["degraded"] == []
    # the storefront calls out through the gateway's internal listener
    page = get_when_ready(f"{gw}/api/storefront/1", KEY).json()
    assert page["product"]["id"] == 1 and page["instance"] == "storefront-1"
    assert requests.get(f"{gw}/api/products/1", timeout=5).status_code == 401
    assert_all_gone(runner, pid_alive)


def test_mesh_storefront_sidecar_is_the_entry(topology_factory, pid_alive):
    runner = topology_factory("mesh", counts=SMALL)
    entry = runner.topology.endpoints.entry
    resp = get_when_ready(f"{entry}/products/1")
    assert resp.json()["product"]["id"] == 1
    assert resp.headers.get("X-Instance") == "storefront-1"
    assert runner.topology.endpoints.gateway is None
    assert_all_gone(runner, pid_alive)


def test_edge_mesh_spreads_gateway_calls_over_every_catalog(topology_factory, pid_alive):
    runner = topology_factory("edge-mesh")  # the demo: default counts, 29 processes
    gw = runner.topology.endpoints.gateway
    get_when_ready(f"{gw}/api/products/1", KEY)
    seen: Counter = Counter()
    deadline = time.monotonic() + READY_S
    while (len(seen) < 3 or sum(seen.values()) < 30) and time.monotonic() < deadline:
        resp = requests.get(f"{gw}/api/products/1", headers=KEY, timeout=5)
        assert resp.status_code == 200, resp.text
        seen[resp.json()["product"]["instance"]] += 1
    assert set(seen) == {"catalog-1", "catalog-2", "catalog-3"}, seen
    page = get_when_ready(f"{gw}/api/storefront/1", KEY).json()
    assert page["product"]["id"] == 1 and page["degraded"] == []
    assert_all_gone(runner, pid_alive)


def test_sidecar_gateway_sidecar_enforces_api_keys(topology_factory, pid_alive):
    runner = topology_factory("sidecar-gateway", counts=SMALL)
    entry = runner.topology.endpoints.entry
    assert get_when_ready(f"{entry}/products/1", KEY).json()["product"]["id"] == 1
    missing = requests.get(f"{entry}/products/1", timeout=5)
    assert missing.status_code == 401, missing.text
    assert missing.headers.get("X-Gatemesh-Reason") == "missing-api-key"
    wrong = requests.get(f"{entry}/products/1", headers={"X-Api-Key": "nope"}, timeout=5)
    assert wrong.status_code == 401
    assert_all_gone(runner, pid_alive)


def test_process_faults_and_scaling_on_a_running_topology(topology_factory, pid_alive):
    runner = topology_factory("edge", counts={**SMALL, "catalog": 1})
    cp = runner.topology.endpoints.controlplane

    def registered(service: str) -> set[str]:
        return {i["id"] for i in requests.get(f"{cp}/v1/services/{service}", timeout=5).json()["instances"]}

    old_pid = runner.children["catalog-1"].pid
    assert runner.kill("catalog-1")["alive"] is False
    assert not pid_alive(old_pid)
    restarted = runner.restart("catalog-1")
    assert restarted["alive"] and restarted["pid"] != old_pid
    assert "catalog-1" in registered("catalog")

    assert runner.pause("pricing-1")["paused"] is True
    with pytest.raises(requests.Timeout):
        requests.get(runner.topology.component("pricing-1").health_url, timeout=0.5)
    assert runner.resume("pricing-1")["paused"] is False
    assert requests.get(runner.topology.component("pricing-1").health_url, timeout=5).status_code == 200

    result = runner.scale("catalog", 3)
    assert result["added"] == ["catalog-2", "catalog-3"]
    assert registered("catalog") == {"catalog-1", "catalog-2", "catalog-3"}
    proxies = requests.get(runner.topology.endpoints.toxiproxy_api + "/proxies", timeout=5).json()
    assert {"catalog-2", "catalog-3"} <= set(proxies)
    gone_pid = runner.children["catalog-3"].pid
    assert runner.scale("catalog", 2)["removed"] == ["catalog-3"]
    assert not pid_alive(gone_pid)
    deadline = time.monotonic() + 5
    while "catalog-3" in registered("catalog") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert registered("catalog") == {"catalog-1", "catalog-2"}
    assert "catalog-3" not in requests.get(runner.topology.endpoints.toxiproxy_api + "/proxies", timeout=5).json()

    status = runner.status()
    assert status["topology"] == "edge" and status["api_key"] == "demo-key"
    names = {i["name"] for i in status["instances"]}
    assert {"toxiproxy", "controlplane", "gateway", "catalog-1", "catalog-2"} <= names
    with pytest.raises(RunnerError, match="no component named 'catalog-9'"):
        runner.kill("catalog-9")
    assert_all_gone(runner, pid_alive)


def test_a_component_that_dies_while_starting_stops_everything(port_base, tmp_path, pid_alive):
    topology = build_topology("edge", PortPlan.from_base(port_base), SMALL)
    broken = [
        dataclasses.replace(c, args=(*c.args, "--no-such-flag")) if c.name == "catalog-1" else c
        for c in topology.components
    ]
    runner = ProcessRunner(dataclasses.replace(topology, components=tuple(broken)), tmp_path)
    with pytest.raises(RunnerError) as info:
        runner.start(timeout_s=30)
    assert info.value.component == "catalog-1"
    assert "catalog-1 exited with code 2 while starting" in str(info.value)
    assert "--no-such-flag" in info.value.log_tail
    assert runner.started and not any(pid_alive(e["pid"]) for e in runner.started)


def test_a_taken_port_is_named_before_anything_starts(port_base, tmp_path):
    topology = build_topology("mesh", PortPlan.from_base(port_base), SMALL)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", topology.ports.controlplane))
        taken.listen()
        runner = ProcessRunner(topology, tmp_path)
        with pytest.raises(RunnerError, match=f"port {topology.ports.controlplane} .*already in use.*--port-base"):
            runner.start()
    assert runner.started == []
