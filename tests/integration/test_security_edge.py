"""Issue 15, items 3 and 5, on a running edge-mesh topology (real processes, real
Toxiproxy): the gateway's admin API only on its admin listener, and never through a
sidecar's Toxiproxy-facing port. Every refusal has its control arm beside it."""

from __future__ import annotations

import json
import os
import time

import pytest
import requests

pytestmark = [pytest.mark.integration]

COUNTS = {"catalog": 1, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
ADMIN_PATHS = ("/-/policies", "/-/upstreams", "/-/events", "/-/routes", "/-/openapi.json", "/-/tracing")


@pytest.fixture(scope="module")
def topo(topology_factory_module):
    saved = os.environ.get("GATEMESH_MTLS")
    os.environ["GATEMESH_MTLS"] = "off"  # plain calls through Toxiproxy below, whatever the suite's mode
    try:
        runner = topology_factory_module("edge-mesh", counts=COUNTS)
    finally:
        if saved is None:
            os.environ.pop("GATEMESH_MTLS", None)
        else:
            os.environ["GATEMESH_MTLS"] = saved
    return runner, runner.status()


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_the_gateways_admin_paths_are_404_on_its_public_listener(topo, path):
    public = topo[1]["gateway"]
    resp = requests.get(public + path, timeout=5)
    assert resp.status_code == 404, resp.text
    assert resp.headers["X-Gatemesh-Reason"] == "no-route"
    assert "not on this listener" in resp.json()["error"]


def test_keyless_policy_writes_and_reset_are_refused_on_the_public_listener(topo):
    public, admin = topo[1]["gateway"], topo[1]["gateway_admin"]
    before = requests.get(admin + "/-/policies/catalog", timeout=5).json()
    for method, path in (("PUT", "/-/policies/catalog"), ("DELETE", "/-/policies/catalog"), ("POST", "/-/reset")):
        resp = requests.request(method, public + path, json={"retry": {"enabled": False}}, timeout=5)
        assert resp.status_code == 404 and resp.headers["X-Gatemesh-Reason"] == "no-route", (method, resp.text)
    assert requests.get(admin + "/-/policies/catalog", timeout=5).json() == before  # nothing changed


def test_the_admin_listener_serves_them_on_loopback(topo):
    status = topo[1]
    admin = status["gateway_admin"]
    assert admin.startswith("http://127.0.0.1:") and admin != status["gateway"]
    assert requests.get(admin + "/-/policies", timeout=5).status_code == 200
    ups = requests.get(admin + "/-/upstreams", timeout=5).json()["upstreams"]
    assert set(ups) >= {"catalog", "storefront"}
    assert requests.get(admin + "/-/routes", timeout=5).json()["routes"]
    assert requests.post(admin + "/-/reset", timeout=5).status_code == 200
    # a route is not served there: the admin listener is the admin API and nothing else
    resp = requests.get(admin + "/api/catalog/1", headers={"X-Api-Key": status["api_key"]}, timeout=5)
    assert resp.status_code == 404 and resp.headers["X-Gatemesh-Reason"] == "no-route"


def test_health_and_metrics_stay_on_both_and_the_public_listener_still_routes(topo):
    status = topo[1]
    for base in (status["gateway"], status["gateway_admin"]):
        assert requests.get(base + "/health", timeout=5).status_code == 200, base
        assert requests.get(base + "/metrics", timeout=5).status_code == 200, base
    ok = requests.get(status["gateway"] + "/api/catalog/1", headers={"X-Api-Key": status["api_key"]}, timeout=5)
    assert ok.status_code == 200, ok.text


def test_a_sidecars_admin_api_is_not_reachable_through_toxiproxy(topo):
    runner = topo[0]
    sidecar = runner.topology.component("sidecar-catalog-1")
    through_toxiproxy = f"http://{sidecar.address}"
    inbound = f"http://127.0.0.1:{sidecar.listen['inbound']}"
    outbound = f"http://127.0.0.1:{sidecar.listen['outbound']}"
    for base in (through_toxiproxy, inbound):
        for method, path in (("GET", "/-/policies"), ("GET", "/-/upstreams"), ("POST", "/-/reset"), ("GET", "/-/mtls")):
            resp = requests.request(method, base + path, timeout=5)
            assert resp.status_code == 404 and resp.headers["X-Gatemesh-Reason"] == "no-route", (base, path)
        assert requests.get(base + "/health", timeout=5).status_code == 200  # health checks come this way
    assert requests.get(outbound + "/-/policies", timeout=5).status_code == 200  # the control arm: app-local port


def test_the_control_plane_shows_api_keys_only_to_the_admin(topo):
    runner, status = topo
    cp, admin = status["controlplane"], runner.admin_headers()
    secret = "key-that-must-not-leak"
    put = requests.put(cp + "/v1/apimgmt", json={"keys": {secret: {"routes": ["*"]}}}, headers=admin, timeout=5)
    assert put.status_code == 200, put.text
    keyless = requests.get(cp + "/v1/apimgmt", timeout=5)
    assert keyless.status_code == 401 and keyless.headers["X-Gatemesh-Reason"] == "unauthenticated"
    assert secret not in keyless.text
    snap = requests.get(cp + "/v1/snapshot?wait_s=0", timeout=5)
    assert snap.status_code == 200 and secret not in snap.text  # the registry stays open, the keys do not
    assert snap.json()["services"]["catalog"]
    shown = requests.get(cp + "/v1/apimgmt", headers=admin, timeout=5)
    assert shown.status_code == 200 and secret in shown.json()["keys"]  # the control arm: the admin reads them


# --- item 5: an app behind a sidecar answers only calls through that sidecar -----------------


def app_url(runner, instance: str) -> str:
    return f"http://127.0.0.1:{runner.topology.component(instance).listen['port']}"


def test_an_apps_port_called_around_its_sidecar_is_403_and_through_it_200(topo):
    runner = topo[0]
    direct = requests.get(app_url(runner, "catalog-1") + "/products/1", timeout=5)
    assert direct.status_code == 403, direct.text
    assert direct.headers["X-Gatemesh-Reason"] == "not-via-sidecar" and direct.json()["reason"] == "not-via-sidecar"
    assert "through its own sidecar" in direct.json()["error"]
    sidecar = runner.topology.component("sidecar-catalog-1")
    for base in (f"http://{sidecar.address}", f"http://127.0.0.1:{sidecar.listen['inbound']}"):  # Toxiproxy, inbound
        via = requests.get(base + "/products/1", timeout=5)
        assert via.status_code == 200 and via.headers["X-Instance"] == "catalog-1", (base, via.text)
    # a guessed secret is no better than none
    forged = requests.get(app_url(runner, "catalog-1") + "/products/1", headers={"X-Gatemesh-App-Secret": "0" * 64})
    assert forged.status_code == 403
    # another instance's sidecar secret does not open this one
    other = runner.credentials.app_secret("catalog", "catalog-2")
    assert (
        requests.get(app_url(runner, "catalog-1") + "/products/1", headers={"X-Gatemesh-App-Secret": other}).status_code
        == 403
    )
    assert requests.get(app_url(runner, "catalog-1") + "/health", timeout=5).status_code == 200  # probes stay open


def test_the_misbehave_knob_is_403_around_the_sidecar_but_takes_the_admin_token(topo):
    runner = topo[0]
    url = app_url(runner, "pricing-1") + "/admin/misbehave"
    refused = requests.put(url, json={"error_rate": 1, "error_status": 503}, timeout=5)
    assert refused.status_code == 403 and refused.headers["X-Gatemesh-Reason"] == "not-via-sidecar"
    assert requests.get(url, headers=runner.admin_headers(), timeout=5).json()["error_rate"] == 0  # nothing changed
    instance_token = {"Authorization": "Bearer " + runner.credentials.instance_token("pricing", "pricing-1")}
    assert requests.put(url, json={"error_rate": 1}, headers=instance_token, timeout=5).status_code == 403
    # the control arm: the run's admin token (people, the CLI, the chaos tests' counts)
    try:
        ok = requests.put(url, json={"error_rate": 1, "error_status": 503}, headers=runner.admin_headers(), timeout=5)
        assert ok.status_code == 200 and ok.json()["error_rate"] == 1
        through = requests.get(f"http://{runner.topology.component('pricing-1').address}/prices/1", timeout=5)
        assert through.status_code == 503  # the knob bites on calls through the sidecar
    finally:
        requests.delete(url, headers=runner.admin_headers(), timeout=5).raise_for_status()


def test_the_fault_api_counts_at_the_instance_with_the_admin_token(topo):
    from gatemesh.faults import Faults

    runner = topo[0]
    faults = Faults.for_runner(runner)
    before = faults.calls("inventory-1")
    sidecar = runner.topology.component("sidecar-inventory-1")
    assert requests.get(f"http://{sidecar.address}/stock/1", timeout=5).status_code == 200
    assert faults.calls("inventory-1") == before + 1  # the refused direct calls above were never counted


def test_the_apps_secret_is_in_no_log_and_no_status(topo):
    runner = topo[0]
    secret = runner.credentials.app_secret("catalog", "catalog-1")
    sidecar = runner.topology.component("sidecar-catalog-1")
    marker = f"/marker-{time.monotonic_ns()}"  # a path of its own: its access-log line is this call's
    assert requests.get(f"http://{sidecar.address}{marker}", timeout=5).status_code == 404  # the app's answer
    access = runner.log_dir / "sidecar-catalog-1.access.jsonl"  # the line of that call: flushed on a 1 s timer

    def logged() -> bool:
        return access.exists() and marker in access.read_text(errors="replace")

    deadline = time.monotonic() + 10
    while not logged():
        assert time.monotonic() < deadline, "sidecar-catalog-1 never logged the call it passed to its app"
        time.sleep(0.05)
    logs = [p for p in runner.log_dir.iterdir() if p.is_file()]  # process logs and the proxies' access logs
    for path in logs:
        assert secret not in path.read_text(errors="replace"), path
    assert secret not in json.dumps(runner.status())
