"""The hardening review's findings, replayed on a running edge-mesh topology (issue 15):
the control plane refuses unauthenticated and cross-instance writes and addresses that
point a proxy at cloud metadata or the Toxiproxy API; a heartbeat puts an overwritten
address back; the gateway never passes the client's credentials on to the app. Real
processes, real Toxiproxy; every refusal has its control arm."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = [pytest.mark.integration]

COUNTS = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
CATALOG_1 = "/v1/services/catalog/instances/catalog-1"


@pytest.fixture(scope="module")
def topo(topology_factory_module):
    runner = topology_factory_module("edge-mesh", counts=COUNTS)
    return runner, runner.status()


def cp(topo) -> str:
    return topo[1]["controlplane"]


def token(topo, service, instance) -> dict[str, str]:
    return {"Authorization": "Bearer " + topo[0].credentials.instance_token(service, instance)}


def catalog_1(topo) -> dict:
    (inst,) = [
        i
        for i in requests.get(cp(topo) + "/v1/services/catalog", timeout=5).json()["instances"]
        if i["id"] == "catalog-1"
    ]
    return inst


def test_the_runner_keeps_the_admin_token_private_in_the_run_directory(topo):
    run_dir = topo[0].run_dir
    for name in ("credentials.json", "admin-token"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o600, name
    assert (run_dir / "admin-token").read_text().strip() == topo[0].credentials.admin_token


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/policies/catalog", {"retry": {"enabled": False}}),
        ("PUT", "/v1/apimgmt", {"keys": {"rogue": {"routes": ["*"]}}}),
        ("DELETE", CATALOG_1, None),
        ("PUT", CATALOG_1, {"address": "127.0.0.1:9999", "ttl_s": 300}),
        ("PUT", "/v1/services/catalog/instances/rogue-1", {"address": "127.0.0.1:9999", "ttl_s": 300}),
    ],
)
def test_a_write_without_a_credential_is_401_and_changes_nothing(topo, method, path, body):
    before = requests.get(cp(topo) + "/v1/snapshot?wait_s=0", timeout=5).json()
    resp = requests.request(method, cp(topo) + path, json=body, timeout=5)
    assert resp.status_code == 401 and resp.json()["reason"] == "unauthenticated", resp.text
    after = requests.get(cp(topo) + "/v1/snapshot?wait_s=0", timeout=5).json()
    assert (after["services"], after["policies"], after["apimgmt"]) == (
        before["services"],
        before["policies"],
        before["apimgmt"],
    )


def test_an_instance_cannot_overwrite_heartbeat_or_deregister_another(topo):
    other = token(topo, "catalog", "catalog-2")
    for method, path, body in [
        ("PUT", CATALOG_1, {"address": "127.0.0.1:9999", "ttl_s": 300}),
        ("PUT", CATALOG_1 + "/heartbeat", None),
        ("DELETE", CATALOG_1, None),
    ]:
        resp = requests.request(method, cp(topo) + path, json=body, headers=other, timeout=5)
        assert resp.status_code == 403, resp.text
        assert resp.json()["reason"] == "not-authorized" and "catalog/catalog-2" in resp.json()["error"]
    # control: catalog-1's own token may heartbeat it
    own = requests.put(cp(topo) + CATALOG_1 + "/heartbeat", headers=token(topo, "catalog", "catalog-1"), timeout=5)
    assert own.status_code == 200
    assert catalog_1(topo)["address"] == topo[0].topology.component("catalog-1").address


@pytest.mark.parametrize(
    ("address", "rule"),
    [("169.254.169.254:80", "link-local"), ("TOXIPROXY", "forbidden-address"), ("example.com:80", "foreign-host")],
)
def test_registering_metadata_or_the_toxiproxy_api_is_refused_naming_the_rule(topo, address, rule):
    if address == "TOXIPROXY":
        address = topo[1]["toxiproxy_api"].split("//", 1)[1]
    admin = topo[0].admin_headers()  # even the admin: the rule is about where proxies would connect
    resp = requests.put(
        cp(topo) + "/v1/services/catalog/instances/catalog-9",
        json={"address": address, "ttl_s": 300},
        headers=admin,
        timeout=5,
    )
    assert resp.status_code == 403, resp.text
    assert resp.json()["rule"] == rule and f"rule {rule}" in resp.json()["error"]


def test_a_heartbeat_puts_an_overwritten_address_back(topo):
    right = topo[0].topology.component("catalog-1").address
    admin = topo[0].admin_headers()
    wrong = requests.put(cp(topo) + CATALOG_1, json={"address": "127.0.0.1:9999", "ttl_s": 3}, headers=admin, timeout=5)
    assert wrong.status_code == 200 and wrong.json()["address"] == "127.0.0.1:9999"  # (a beat may fix it already)
    t0 = time.monotonic()
    while catalog_1(topo)["address"] != right and time.monotonic() - t0 < 5:
        time.sleep(0.05)
    took = time.monotonic() - t0
    assert catalog_1(topo)["address"] == right, "the sidecar's heartbeats did not correct the address"
    assert took < 3.0  # heartbeats every ttl/3 = 1 s (the review saw 30+ s without this)


def app_stats(topo, name: str) -> dict:
    port = topo[0].topology.component(name).listen["port"]  # the app's own port: the admin token's only
    return requests.get(f"http://127.0.0.1:{port}/admin/stats", headers=topo[0].admin_headers(), timeout=5).json()


def test_the_clients_credentials_never_reach_the_app(topo):
    gateway = topo[1]["gateway"]
    key = topo[1]["api_key"]
    names = ["catalog-1", "catalog-2"]
    before = {n: app_stats(topo, n) for n in names}
    # a Basic credential beside the key: not a JWT, so the key decides; both must stop here
    headers = {"X-Api-Key": key, "Authorization": "Basic Y2xpZW50OnNlY3JldA==", "X-Gatemesh-Principal": "admin"}
    for _ in range(6):
        assert requests.get(f"{gateway}/api/catalog/1", headers=headers, timeout=5).status_code == 200
    after = {n: app_stats(topo, n) for n in names}
    reached = sum(after[n]["requests"] - before[n]["requests"] for n in names)
    assert reached >= 6  # the calls did reach the apps ...
    assert all(after[n]["with_credentials"] == before[n]["with_credentials"] for n in names)  # ... without them
    # control arm: the counter does see a credential that reaches the app (on its own port, which an
    # app behind a sidecar answers only with the run's admin token beside it)
    port = topo[0].topology.component("catalog-1").listen["port"]
    headers = {"X-Api-Key": key, **topo[0].admin_headers()}
    requests.get(f"http://127.0.0.1:{port}/products/1", headers=headers, timeout=5).raise_for_status()
    assert app_stats(topo, "catalog-1")["with_credentials"] == after["catalog-1"]["with_credentials"] + 1


# -- JWT at the edge ----------------------------------------------------------------------
def mint(topo, **body) -> str:
    resp = requests.post(cp(topo) + "/v1/tokens", json=body, headers=topo[0].admin_headers(), timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()["token"]


def gateway_call(topo, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 5  # the gateway fetches the JWKS in the background at start
    while True:
        resp = requests.get(f"{topo[1]['gateway']}/api/catalog/1", headers=headers, timeout=5)
        if resp.headers.get("X-Gatemesh-Reason") != "token-unknown-key" or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def test_minting_a_token_needs_the_admin_token(topo):
    resp = requests.post(cp(topo) + "/v1/tokens", json={"sub": "mallory"}, timeout=5)
    assert resp.status_code == 401
    other = requests.post(
        cp(topo) + "/v1/tokens", json={"sub": "m"}, headers=token(topo, "catalog", "catalog-1"), timeout=5
    )
    assert other.status_code == 403


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_jwt_from_the_control_plane_is_accepted_and_not_forwarded(topo, alg):
    before = sum(app_stats(topo, n)["with_credentials"] for n in ("catalog-1", "catalog-2"))
    resp = gateway_call(topo, mint(topo, sub="alice", alg=alg))
    assert resp.status_code == 200, resp.text
    after = sum(app_stats(topo, n)["with_credentials"] for n in ("catalog-1", "catalog-2"))
    assert after == before


def signed_by_the_issuer(topo, **claims) -> str:
    import jwt as pyjwt

    from gatemesh.security.jwt import ISSUER_FILE, Issuer

    issuer = Issuer.ensure(topo[0].run_dir / ISSUER_FILE)  # the control plane's own keys (0600, the run dir)
    kid, (alg, key) = next(iter(issuer.keys.items()))
    now = int(time.time())
    base = {"iss": issuer.issuer, "aud": "gatemesh-api", "sub": "bob", "iat": now, "exp": now + 300}
    return pyjwt.encode({**base, **claims}, key, algorithm=alg, headers={"kid": kid})


def test_each_bad_jwt_is_401_with_the_reason_of_its_flaw(topo):
    from gatemesh.security.jwt import Issuer

    good = signed_by_the_issuer(topo)
    assert gateway_call(topo, good).status_code == 200  # control: the same key, nothing wrong
    head, body, sig = good.split(".")
    cases = {
        "token-expired": signed_by_the_issuer(topo, exp=int(time.time()) - 120),  # beyond the 60 s skew
        "token-audience": mint(topo, sub="bob", audience="billing-api"),
        "token-signature": f"{head}.{body}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}",
        "token-unknown-key": Issuer.generate().mint("bob"),
        "token-issuer": signed_by_the_issuer(topo, iss="https://evil.example"),
        "token-malformed": "not.a.jwt",
    }
    for reason, bad in cases.items():
        resp = (
            gateway_call(topo, bad)
            if reason != "token-unknown-key"
            else requests.get(
                f"{topo[1]['gateway']}/api/catalog/1", headers={"Authorization": f"Bearer {bad}"}, timeout=5
            )
        )
        assert resp.status_code == 401, (reason, resp.text)
        assert resp.headers["X-Gatemesh-Reason"] == reason, (reason, resp.text)
        assert resp.json()["error"] and "\n" not in resp.json()["error"]


def test_the_api_key_still_works_beside_jwt_and_no_credential_is_still_missing_api_key(topo):
    gateway = topo[1]["gateway"]
    assert requests.get(f"{gateway}/api/catalog/1", headers={"X-Api-Key": topo[1]["api_key"]}, timeout=5).ok
    none = requests.get(f"{gateway}/api/catalog/1", timeout=5)
    assert none.status_code == 401 and none.headers["X-Gatemesh-Reason"] == "missing-api-key"
