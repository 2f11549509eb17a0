"""Mutual TLS between the proxies of a running edge-mesh topology, across Toxiproxy
(issue 15, item 1): the gateway and the sidecars dial each other in TLS with leaves from
the control plane's CA; permissive takes plain and TLS on one port, strict refuses plain
HTTP (on the sidecar's port and through the instance's Toxiproxy port) and a TLS client
without a mesh certificate; a latency toxic still bites on the encrypted stream; every
leaf, and then the root, rotates under steady load with no failed request."""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from gatemesh.security.identity import Issued, _contexts

pytestmark = [pytest.mark.integration]

COUNTS = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
LEAF_LIFETIME_S = 4.0  # renewed at 70 %: every 2.8 s, so a test sees several rotations


@pytest.fixture(scope="module")
def topo(topology_factory_module):
    saved = {k: os.environ.get(k) for k in ("GATEMESH_MTLS", "GATEMESH_LEAF_LIFETIME_S")}
    os.environ["GATEMESH_MTLS"] = "permissive"
    os.environ["GATEMESH_LEAF_LIFETIME_S"] = str(LEAF_LIFETIME_S)
    try:
        runner = topology_factory_module("edge-mesh", counts=COUNTS)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return runner, runner.status()


def outbound(topo, instance: str) -> str:
    return f"http://127.0.0.1:{topo[0].topology.component(f'sidecar-{instance}').listen['outbound']}"


def mtls(topo, instance: str) -> dict:
    return requests.get(outbound(topo, instance) + "/-/mtls", timeout=5).json()


def set_mode(topo, instance: str, mode: str) -> None:
    resp = requests.put(outbound(topo, instance) + "/-/mtls", json={"mode": mode}, timeout=5)
    assert resp.status_code == 200 and resp.json()["mode"] == mode, resp.text


def inbound_port(topo, instance: str) -> int:
    return topo[0].topology.component(f"sidecar-{instance}").listen["inbound"]


def toxiproxy_port(topo, instance: str) -> int:
    return int(topo[0].topology.component(instance).address.rsplit(":", 1)[1])


def call(topo, path="/api/catalog/1") -> requests.Response:
    return requests.get(topo[1]["gateway"] + path, headers={"X-Api-Key": topo[1]["api_key"]}, timeout=10)


def probe_context(topo, with_cert: bool) -> ssl.SSLContext:
    """A TLS client: with a mesh leaf of its own (service "probe"), or with none."""
    if not with_cert:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        return ctx
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe")])
    )
    pem = csr.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
    resp = requests.post(
        topo[1]["controlplane"] + "/v1/certificates",
        json={"csr": pem, "service": "probe"},
        headers=topo[0].admin_headers(),
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    d = resp.json()
    _, client = _contexts(key, Issued(d["certificate"], d["bundle"], d["lifetime_s"]))
    client.check_hostname = False  # the probe checks the chain; the server's name is the proxies' business
    return client


def tls_get(port: int, ctx: ssl.SSLContext, path: str = "/health") -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def plain_get(port: int) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}/health", timeout=5)


def test_proxies_speak_mtls_to_each_other_with_spiffe_identities(topo):
    for _ in range(10):
        assert call(topo).status_code == 200
        assert call(topo, "/api/storefront/1").status_code == 200  # gateway → storefront → its sidecar → peers
    status = {i: mtls(topo, i) for i in ("catalog-1", "catalog-2", "storefront-1")}
    assert status["catalog-1"]["identity"] == "spiffe://gatemesh.local/service/catalog"
    assert status["catalog-1"]["connections"]["mtls"] + status["catalog-2"]["connections"]["mtls"] > 0
    assert status["storefront-1"]["outbound"]["mtls"] > 0  # the storefront's sidecar dialled its peers in TLS


def test_permissive_takes_plain_and_tls_on_the_same_port(topo):
    port = inbound_port(topo, "catalog-1")
    assert plain_get(port).status_code == 200
    assert tls_get(port, probe_context(topo, with_cert=True)) == 200
    assert plain_get(toxiproxy_port(topo, "catalog-1")).status_code == 200


def test_strict_refuses_plain_http_and_a_tls_client_without_a_mesh_certificate(topo):
    set_mode(topo, "catalog-1", "strict")
    try:
        for port in (inbound_port(topo, "catalog-1"), toxiproxy_port(topo, "catalog-1")):
            plain = plain_get(port)
            assert plain.status_code == 400 and plain.headers["x-gatemesh-reason"] == "mtls-required"
            with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
                tls_get(port, probe_context(topo, with_cert=False))
            assert tls_get(port, probe_context(topo, with_cert=True)) == 200  # control: a mesh leaf is let in
        for _ in range(6):  # and the gateway's calls still land on catalog-1, in TLS
            assert call(topo).status_code == 200
        refused = mtls(topo, "catalog-1")["connections"]
        assert refused["refused-plain"] >= 2 and refused["refused-handshake"] >= 2
    finally:
        set_mode(topo, "catalog-1", "permissive")


def connections(base: str) -> dict[tuple[str, str], float]:
    """gatemesh_connections_total of the proxy whose admin base is ``base``, by (direction, kind)."""
    out = {}
    for family in text_string_to_metric_families(requests.get(base + "/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == "gatemesh_connections_total":
                out[(sample.labels["direction"], sample.labels["kind"])] = sample.value
    return out


def test_the_metrics_say_which_connections_are_mtls_in_strict_and_in_permissive(topo):
    admin, port = outbound(topo, "catalog-1"), inbound_port(topo, "catalog-1")
    before = connections(admin)
    assert plain_get(port).status_code == 200  # permissive: a plain client is let in, and counted as plain
    assert tls_get(port, probe_context(topo, with_cert=True)) == 200
    permissive = connections(admin)
    assert permissive[("inbound", "plain")] >= before[("inbound", "plain")] + 1
    assert permissive[("inbound", "mtls")] >= before[("inbound", "mtls")] + 1
    assert permissive[("inbound", "refused-plain")] == before[("inbound", "refused-plain")]
    set_mode(topo, "catalog-1", "strict")
    try:
        assert plain_get(port).status_code == 400  # strict: the same client is refused, and counted as refused
        assert tls_get(port, probe_context(topo, with_cert=True)) == 200
        strict = connections(admin)
    finally:
        set_mode(topo, "catalog-1", "permissive")
    assert strict[("inbound", "refused-plain")] >= permissive[("inbound", "refused-plain")] + 1
    assert strict[("inbound", "plain")] == permissive[("inbound", "plain")]  # nothing plain got in
    assert strict[("inbound", "mtls")] >= permissive[("inbound", "mtls")] + 1
    # the dialling side: the gateway's connections to the sidecars are mTLS
    gateway = connections(topo[1]["gateway_admin"])
    assert gateway[("outbound", "mtls")] > 0, gateway


def test_a_latency_toxic_bites_on_the_encrypted_stream(topo):
    for i in ("catalog-1", "catalog-2"):
        set_mode(topo, i, "strict")  # only TLS reaches catalog: the toxic sits on TLS bytes
    api = topo[1]["toxiproxy_api"]
    toxic = {"name": "slow", "type": "latency", "stream": "downstream", "attributes": {"latency": 300}}
    try:
        for i in ("catalog-1", "catalog-2"):
            assert requests.post(f"{api}/proxies/{i}/toxics", json=toxic, timeout=5).status_code == 200
        t0 = time.monotonic()
        assert call(topo, "/api/catalog/2").status_code == 200
        slow = time.monotonic() - t0
        for i in ("catalog-1", "catalog-2"):
            requests.delete(f"{api}/proxies/{i}/toxics/slow", timeout=5)
        fast = 10.0
        for _ in range(3):  # the best of three: a loaded machine may stall one call
            t0 = time.monotonic()
            assert call(topo, "/api/catalog/2").status_code == 200
            fast = min(fast, time.monotonic() - t0)
        assert slow >= 0.29 and fast < slow  # control arm: the same call without the toxic
    finally:
        for i in ("catalog-1", "catalog-2"):
            requests.delete(f"{api}/proxies/{i}/toxics/slow", timeout=5)
            set_mode(topo, i, "permissive")


class Load:
    """Steady bounded load through the gateway (composed pages: every hop), counting failures."""

    def __init__(self, topo, threads: int = 2, max_requests: int = 5000) -> None:
        self.topo, self.max = topo, max_requests
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        s = requests.Session()
        while not self._stop.is_set() and self.ok + len(self.failed) < self.max:
            try:
                r = s.get(
                    self.topo[1]["gateway"] + "/api/products/1",
                    headers={"X-Api-Key": self.topo[1]["api_key"]},
                    timeout=10,
                )
                if r.status_code == 200 and not r.headers.get("x-gatemesh-degraded"):
                    self.ok += 1
                else:
                    self.failed.append(f"{r.status_code} {r.headers.get('x-gatemesh-reason')} {r.text[:120]}")
            except requests.RequestException as exc:
                self.failed.append(repr(exc))
            time.sleep(0.01)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)


def renewals(topo) -> dict[str, int]:
    return {i: mtls(topo, i)["renewals"] for i in ("catalog-1", "catalog-2", "storefront-1", "pricing-1")}


def test_every_leaf_and_then_the_root_rotate_under_load_with_no_failed_request(topo):
    for i in ("catalog-1", "catalog-2", "storefront-1", "pricing-1"):
        set_mode(topo, i, "strict")  # nothing but mTLS between the proxies while certificates turn over
    cp, admin = topo[1]["controlplane"], topo[0].admin_headers()
    try:
        with Load(topo) as load:
            before = renewals(topo)
            time.sleep(LEAF_LIFETIME_S * 1.6)  # two renewals of every leaf
            leaves = renewals(topo)
            assert all(leaves[i] >= before[i] + 1 for i in before), (before, leaves)
            rotated = requests.post(cp + "/v1/ca/rotate", headers=admin, timeout=5).json()
            assert rotated["roots"] == 2
            time.sleep(rotated["signs_in_s"] + LEAF_LIFETIME_S * 1.2)  # new root signs; every leaf re-issued
            retired = requests.post(cp + "/v1/ca/retire", headers=admin, timeout=5).json()
            assert retired == {"retired": 1, "roots": 1}
            time.sleep(LEAF_LIFETIME_S * 1.2)  # and a renewal under the new root alone
        assert load.ok > 50, load.ok
        assert load.failed == [], load.failed[:5]
        print(f"rotation under load: {load.ok} requests, 0 failed; renewals {renewals(topo)}")
    finally:
        for i in ("catalog-1", "catalog-2", "storefront-1", "pricing-1"):
            set_mode(topo, i, "permissive")


def test_strict_is_refused_loudly_without_a_token_at_the_process_edge(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GATEMESH_BOOTSTRAP_TOKEN"}
    argv = [sys.executable, "-m", "mesh.sidecar", "--service", "x", "--instance", "x-1", "--app", "127.0.0.1:1"]
    argv += ["--inbound-port", "1", "--outbound-port", "2", "--advertise", "127.0.0.1:3"]
    argv += ["--control-plane", "http://127.0.0.1:9", "--mtls", "strict"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=20)
    assert done.returncode != 0 and "bootstrap token" in done.stderr and "Traceback" not in done.stderr


# -- authorization between services -----------------------------------------------------------
def test_only_storefront_and_the_gateway_may_call_pricing(topo):
    cp, admin = topo[1]["controlplane"], topo[0].admin_headers()
    policy = {"rules": [{"to": "pricing", "from": ["storefront", "gateway"]}]}
    assert (
        requests.put(cp + "/v1/authz", json=policy, timeout=5).status_code == 401
    )  # control plane write: a credential
    assert requests.put(cp + "/v1/authz", json=policy, headers=admin, timeout=5).status_code == 200
    since = requests.get(outbound(topo, "pricing-1") + "/-/events", timeout=5).json()
    try:
        time.sleep(1.0)  # pushed to the sidecars by their long-poll
        assert call(topo, "/api/pricing/1").status_code == 200  # the gateway may
        assert call(topo, "/api/storefront/1").status_code == 200  # storefront (calls pricing) may
        # catalog's app calls pricing through its own sidecar: its identity is catalog
        resp = requests.get(outbound(topo, "catalog-1") + "/prices/1", headers={"Host": "pricing"}, timeout=5)
        assert resp.status_code == 403, resp.text
        assert resp.headers["x-gatemesh-reason"] == "not-authorized"
        assert "spiffe://gatemesh.local/service/catalog" in resp.json()["error"]
        # a plain caller (permissive mode) has no identity at all
        plain = requests.get(f"http://127.0.0.1:{toxiproxy_port(topo, 'pricing-1')}/prices/1", timeout=5)
        assert plain.status_code == 403 and "unauthenticated" in plain.json()["error"]
        events = requests.get(outbound(topo, "pricing-1") + "/-/events", timeout=5).json()
        denials = [e for e in events.get("events", []) if e.get("kind") == "authz-denied"]
        assert any("service/catalog" in e.get("cause", "") for e in denials), (since, events)
    finally:
        requests.put(cp + "/v1/authz", json={}, headers=admin, timeout=5)
        time.sleep(1.0)
    # control arm: with the default (allow) back, catalog may call pricing again
    again = requests.get(outbound(topo, "catalog-1") + "/prices/1", headers={"Host": "pricing"}, timeout=5)
    assert again.status_code == 200, again.text
