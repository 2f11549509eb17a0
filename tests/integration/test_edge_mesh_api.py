"""The running edge-mesh topology as a user meets it: the APIs, precise answers to bad
input, idempotent orders, and a Toxiproxy latency toxic seen from the gateway and from
a sidecar. One topology for the module (small counts), real processes, real Toxiproxy."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid

import pytest
import requests

pytestmark = [pytest.mark.integration]

COUNTS = {"catalog": 3, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 2}


@pytest.fixture(scope="module")
def topo(topology_factory_module):
    runner = topology_factory_module("edge-mesh", counts=COUNTS)
    status = runner.status()
    yield runner, status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gw(topo) -> str:
    return topo[1]["gateway"]


def key(k: str = "demo-key") -> dict:
    return {"X-Api-Key": k}


def instance(topo, name: str) -> dict:
    return next(i for i in topo[1]["instances"] if i["name"] == name)


def outbound_of(topo, sidecar: str) -> str:
    listen = instance(topo, sidecar)["listen"]
    port = next(v for k, v in listen.items() if "outbound" in k)
    return f"http://127.0.0.1:{port}"


def test_product_page_composed_at_the_edge_and_in_the_mesh(topo):
    edge = requests.get(f"{gw(topo)}/api/products/3", headers=key(), timeout=5)
    mesh = requests.get(f"{gw(topo)}/api/storefront/3", headers=key(), timeout=5)
    assert edge.status_code == mesh.status_code == 200
    assert edge.json()["product"]["id"] == mesh.json()["product"]["id"] == 3
    assert edge.json()["degraded"] == mesh.json()["degraded"] == []
    assert edge.headers["X-Gatemesh-Proxy"] == "gateway"


@pytest.mark.parametrize(
    "path,headers,status,reason",
    [
        ("/api/nowhere/1", key(), 404, "no-route"),
        ("/api/catalog/1", {}, 401, "missing-api-key"),
        ("/api/catalog/1", key("wrong"), 401, "invalid-api-key"),
        ("/api/products/1", key("catalog-only-key"), 403, "forbidden"),
        ("/api/products/abc", key(), 400, "bad-request"),
    ],
)
def test_bad_requests_get_a_precise_4xx_with_a_reason(topo, path, headers, status, reason):
    r = requests.get(f"{gw(topo)}{path}", headers=headers, timeout=5)
    assert r.status_code == status
    assert r.headers["X-Gatemesh-Reason"] == reason
    assert r.json()["error"]


def test_malformed_json_and_oversized_bodies_are_refused(topo):
    bad = requests.post(
        f"{gw(topo)}/api/orders", data=b"{not json", timeout=5, headers={**key(), "Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "error" in bad.json()
    huge = requests.post(f"{gw(topo)}/api/orders", data=b"x" * (2 << 20), timeout=10, headers=key())
    assert huge.status_code == 413
    assert huge.headers["X-Gatemesh-Reason"] == "payload-too-large"


def test_unknown_service_in_the_mesh_is_named(topo):
    r = requests.get(f"{outbound_of(topo, 'sidecar-storefront-1')}/x", headers={"Host": "nosuch"}, timeout=5)
    assert r.status_code == 404
    assert r.headers["X-Gatemesh-Reason"] == "unknown-service"
    assert "nosuch" in r.json()["error"]


def test_bad_registration_is_a_400_with_a_sentence(topo):
    cp = topo[1]["controlplane"]
    admin = topo[0].admin_headers()  # with the run's admin token: the body is what is wrong
    r = requests.put(
        f"{cp}/v1/services/catalog/instances/catalog-9", json={"address": "nowhere"}, headers=admin, timeout=5
    )
    assert r.status_code == 400 and "address" in r.json()["error"]


def test_rate_limit_answers_429_with_retry_after(topo, tmp_path):
    # A second gateway with a tight limit, on the same control plane: the token bucket
    # must refuse the 6th call of a quick burst whatever the machine's speed.
    port = free_port()
    cfg = tmp_path / "gw.json"
    cfg.write_text(
        json.dumps(
            {
                "listen": f"127.0.0.1:{port}",
                "control_plane": topo[1]["controlplane"],
                "proxy_name": "gateway-limited",
                "routes": [{"name": "catalog", "prefix": "/api/catalog", "service": "catalog", "rewrite": "/products"}],
                "apimgmt": {"keys": {"k": {"routes": ["*"]}}, "rate_limit": {"rate_per_s": 0.1, "burst": 5}},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        codes = [requests.get(f"{url}/api/catalog/1", headers=key("k"), timeout=5) for _ in range(8)]
        assert [r.status_code for r in codes[:5]] == [200] * 5
        limited = codes[5]
        assert limited.status_code == 429
        assert limited.headers["X-Gatemesh-Reason"] == "rate-limited"
        assert int(limited.headers["Retry-After"]) >= 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_same_idempotency_key_twice_creates_one_order(topo):
    k = str(uuid.uuid4())
    body = {"product_id": 4, "quantity": 2}
    first = requests.post(f"{gw(topo)}/api/orders", json=body, headers={**key(), "Idempotency-Key": k}, timeout=5)
    again = requests.post(f"{gw(topo)}/api/orders", json=body, headers={**key(), "Idempotency-Key": k}, timeout=5)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    orders = requests.get(f"{gw(topo)}/api/orders", params={"limit": 1000}, headers=key(), timeout=5).json()["orders"]
    assert sum(1 for o in orders if o.get("idempotency_key") == k) == 1


def test_latency_toxic_on_one_instance_slows_only_its_calls_from_gateway_and_sidecar(topo):
    api = topo[1]["toxiproxy_api"]
    toxic = {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": 400}}
    requests.post(f"{api}/proxies/catalog-1/toxics", data=json.dumps(toxic), timeout=5).raise_for_status()
    try:
        paths = {
            "gateway": (f"{gw(topo)}/api/catalog/1", key()),
            "sidecar": (f"{outbound_of(topo, 'sidecar-storefront-1')}/products/1", {"Host": "catalog"}),
        }
        for where, (url, headers) in paths.items():
            times: dict[str, list[float]] = {}
            for _ in range(9):
                t0 = time.monotonic()
                r = requests.get(url, headers=headers, timeout=5)
                times.setdefault(r.headers["X-Instance"], []).append(time.monotonic() - t0)
            assert set(times) == {"catalog-1", "catalog-2", "catalog-3"}, where
            assert min(times["catalog-1"]) >= 0.4, where
            assert max(times["catalog-2"] + times["catalog-3"]) < 0.3, where
    finally:
        requests.delete(f"{api}/proxies/catalog-1/toxics/slow", timeout=5)
