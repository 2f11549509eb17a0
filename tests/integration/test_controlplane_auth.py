"""The real control plane refuses what the hardening review got through (issue 15, item 4):
writes without a credential, an instance writing another instance, and addresses that
point a proxy somewhere it must never go. Each refusal is a 4xx with one sentence and a
reason; each has its control (the same write with the right credential succeeds)."""

from __future__ import annotations

import pytest
import requests
from test_controlplane import ControlPlaneProcess

pytestmark = [pytest.mark.integration, pytest.mark.discovery]

TOXIPROXY_API = "127.0.0.1:8474"
CATALOG_1 = "/v1/services/catalog/instances/catalog-1"


@pytest.fixture(scope="module")
def cp():
    proc = ControlPlaneProcess("--forbid-address", TOXIPROXY_API)
    yield proc
    proc.close()


def call(cp, method, path, headers=None, body=None):
    return requests.request(method, cp.url + path, json=body, headers=headers or {}, timeout=5)


def register(cp, address="127.0.0.1:18001", who=("catalog", "catalog-1"), path=CATALOG_1):
    return call(cp, "PUT", path, cp.instance(*who), {"address": address, "ttl_s": 30})


WRITES = [
    ("PUT", CATALOG_1, {"address": "127.0.0.1:18001"}),
    ("PUT", CATALOG_1 + "/heartbeat", None),
    ("DELETE", CATALOG_1, None),
    ("PUT", "/v1/policies/catalog", {}),
    ("DELETE", "/v1/policies/catalog", None),
    ("PUT", "/v1/apimgmt", {"keys": {"rogue-key": {"routes": ["*"]}}}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
@pytest.mark.parametrize("credential", ["none", "forged", "wrong-scheme"])
def test_every_write_without_a_known_credential_is_401(cp, method, path, body, credential):
    headers = {
        "none": {},
        "forged": {"Authorization": "Bearer gm1.catalog.catalog-1." + "0" * 64},
        "wrong-scheme": {"Authorization": "Basic " + cp.credentials.admin_token},
    }[credential]
    before = call(cp, "GET", "/v1/snapshot?wait_s=0", cp.admin).json()  # the admin's view: with the API keys
    resp = call(cp, method, path, headers, body)
    assert resp.status_code == 401, resp.text
    assert resp.headers["X-Gatemesh-Reason"] == "unauthenticated"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    sentence = resp.json()["error"]
    assert "\n" not in sentence and ("admin-token" in sentence)
    after = call(cp, "GET", "/v1/snapshot?wait_s=0", cp.admin).json()
    assert after == before  # nothing changed


def test_the_admin_token_may_write_everything(cp):
    assert call(cp, "PUT", "/v1/policies/catalog", cp.admin, {}).status_code == 200
    assert call(cp, "DELETE", "/v1/policies/catalog", cp.admin).status_code == 200
    assert call(cp, "PUT", "/v1/apimgmt", cp.admin, {}).status_code == 200


@pytest.mark.parametrize("credential", ["none", "forged"])
def test_reading_the_api_keys_needs_the_admin_token(cp, credential):
    assert call(cp, "PUT", "/v1/apimgmt", cp.admin, {"keys": {"secret-key": {"routes": ["*"]}}}).status_code == 200
    headers = {"none": {}, "forged": {"Authorization": "Bearer gm1.catalog.catalog-1." + "0" * 64}}[credential]
    resp = call(cp, "GET", "/v1/apimgmt", headers)
    assert resp.status_code == 401 and resp.headers["X-Gatemesh-Reason"] == "unauthenticated", resp.text
    assert "secret-key" not in resp.text and "\n" not in resp.json()["error"]
    instance = call(cp, "GET", "/v1/apimgmt", cp.instance("catalog", "catalog-1"))
    assert instance.status_code == 403 and instance.headers["X-Gatemesh-Reason"] == "not-authorized"
    # the control arm: the admin reads them
    assert call(cp, "GET", "/v1/apimgmt", cp.admin).json()["keys"] == {"secret-key": {"routes": ["*"]}}


def test_the_snapshot_shows_the_api_keys_only_to_a_credential_and_the_rest_to_everyone(cp):
    assert call(cp, "PUT", "/v1/apimgmt", cp.admin, {"keys": {"secret-key": {"routes": ["*"]}}}).status_code == 200
    anonymous = call(cp, "GET", "/v1/snapshot?wait_s=0")
    assert anonymous.status_code == 200 and "secret-key" not in anonymous.text
    assert set(anonymous.json()["apimgmt"]) == {"redacted"}
    assert "services" in anonymous.json() and "policies" in anonymous.json()  # the rest of the reads stay open
    for who in (cp.admin, cp.instance("storefront", "storefront-1")):  # the exposed sidecar watches with its token
        shown = call(cp, "GET", "/v1/snapshot?wait_s=0", who).json()
        assert shown["apimgmt"]["keys"] == {"secret-key": {"routes": ["*"]}}
        assert {k: v for k, v in shown.items() if k != "apimgmt"} == {
            k: v for k, v in anonymous.json().items() if k != "apimgmt"
        }
    forged = call(cp, "GET", "/v1/snapshot?wait_s=0", {"Authorization": "Bearer nope"})
    assert forged.status_code == 401 and forged.headers["X-Gatemesh-Reason"] == "unauthenticated"


def test_the_toxiproxy_api_is_not_a_registrable_service(cp):
    """Issue 15 item 5: 127.0.0.1:8474 registered as a service made the Toxiproxy API reachable
    through a sidecar's outbound port. The runner forbids its address (--forbid-address)."""
    for who, path in ((cp.admin, "/v1/services/toxiproxy/instances/toxiproxy-1"), (None, None)):
        if who is None:  # and an instance cannot smuggle it in as its own address either
            resp = register(cp, TOXIPROXY_API)
        else:
            resp = call(cp, "PUT", path, who, {"address": TOXIPROXY_API, "ttl_s": 30})
        assert resp.status_code == 403 and resp.json()["rule"] == "forbidden-address", resp.text
    assert call(cp, "GET", "/v1/services/toxiproxy").status_code == 404


def test_an_instance_registers_heartbeats_and_deregisters_only_itself(cp):
    assert register(cp).status_code == 200  # control: its own token
    other = cp.instance("catalog", "catalog-2")
    for method, path, body in [
        ("PUT", CATALOG_1, {"address": "127.0.0.1:9999"}),  # overwrite
        ("PUT", CATALOG_1 + "/heartbeat", None),
        ("DELETE", CATALOG_1, None),
        ("PUT", "/v1/policies/catalog", {}),  # and no instance writes policies
        ("PUT", "/v1/apimgmt", {}),
    ]:
        resp = call(cp, method, path, other, body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.headers["X-Gatemesh-Reason"] == "not-authorized"
        assert "catalog/catalog-2" in resp.json()["error"]
    # the rogue of the review: a new instance of catalog with catalog-1's token is refused too
    rogue = register(cp, "127.0.0.1:18099", path="/v1/services/catalog/instances/rogue-1")
    assert rogue.status_code == 403 and "catalog/catalog-1" in rogue.json()["error"]
    (inst,) = call(cp, "GET", "/v1/services/catalog").json()["instances"]
    assert inst["address"] == "127.0.0.1:18001"
    assert call(cp, "PUT", CATALOG_1 + "/heartbeat", cp.instance("catalog", "catalog-1")).status_code == 200
    assert call(cp, "DELETE", CATALOG_1, cp.instance("catalog", "catalog-1")).status_code == 200


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("169.254.169.254:80", "link-local"),
        ("[fe80::1]:80", "link-local"),
        (TOXIPROXY_API, "forbidden-address"),
        ("example.com:80", "foreign-host"),
        ("192.0.2.1:22", "foreign-host"),
        ("0.0.0.0:8080", "unspecified"),
        ("224.0.0.1:80", "multicast"),
    ],
)
def test_registering_an_address_outside_the_rules_is_403_naming_the_rule(cp, address, rule):
    resp = register(cp, address, who=("inventory", "inventory-1"), path="/v1/services/inventory/instances/inventory-1")
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["reason"] == "address-refused" and body["rule"] == rule
    assert f"rule {rule}" in body["error"] and address in body["error"]
    assert call(cp, "GET", "/v1/services/inventory").status_code in (200, 404)
    listed = call(cp, "GET", "/v1/services/inventory")
    assert listed.status_code == 404 or all(i["address"] != address for i in listed.json()["instances"])


def test_the_control_planes_own_address_is_refused(cp):
    resp = register(
        cp, f"127.0.0.1:{cp.port}", who=("reviews", "reviews-1"), path="/v1/services/reviews/instances/reviews-1"
    )
    assert resp.status_code == 403 and resp.json()["rule"] == "forbidden-address"


def test_a_heartbeat_carries_the_address_and_corrects_an_overwrite(cp):
    who = ("pricing", "pricing-1")
    path = "/v1/services/pricing/instances/pricing-1"
    assert register(cp, "127.0.0.1:18002", who=who, path=path).status_code == 200
    # the admin (a person) re-points it by mistake: the review's 127.0.0.1:9999
    assert call(cp, "PUT", path, cp.admin, {"address": "127.0.0.1:9999", "ttl_s": 30}).status_code == 200
    beat = call(cp, "PUT", path + "/heartbeat", cp.instance(*who), {"address": "127.0.0.1:18002"})
    assert beat.status_code == 200, beat.text
    (inst,) = call(cp, "GET", "/v1/services/pricing").json()["instances"]
    assert inst["address"] == "127.0.0.1:18002"
    # a heartbeat cannot smuggle in an address the rules refuse
    bad = call(cp, "PUT", path + "/heartbeat", cp.instance(*who), {"address": "169.254.169.254:80"})
    assert bad.status_code == 403 and bad.json()["rule"] == "link-local"
    extra = call(cp, "PUT", path + "/heartbeat", cp.instance(*who), {"ttl_s": 1})
    assert extra.status_code == 400 and "only address" in extra.json()["error"]


def test_the_credentials_file_and_admin_token_are_private(cp):
    mode = cp.credentials_path.stat().st_mode & 0o777
    token_mode = (cp.credentials_path.parent / "admin-token").stat().st_mode & 0o777
    assert (mode, token_mode) == (0o600, 0o600)
