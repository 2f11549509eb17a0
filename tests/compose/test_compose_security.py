"""Trust in containers: the compose ``edge-mesh``'s control plane refuses writes without a
credential, each part got its own token from a volume (not from its configuration), and in
strict mTLS (the compose tier's default, ``GATEMESH_MTLS=strict``) a sidecar's inbound
port refuses plain HTTP while the calls through Toxiproxy travel on mutual TLS.

Each check has its control arm: the same write with the admin token is taken, the same
inbound port answers a client that holds a mesh certificate.
"""

from __future__ import annotations

import os
import socket
import ssl

import pytest
import requests

from gatemesh.security.probe import client_context

MTLS = os.environ.get("GATEMESH_MTLS", "off")
STRICT = pytest.mark.skipif(MTLS != "strict", reason=f"the proxies run GATEMESH_MTLS={MTLS}, not strict")
CALLS = 12

pytestmark = [pytest.mark.compose]


def _sidecar_port(chaos, instance: str, role: str) -> int:
    return int(chaos.runner.topology.component(f"sidecar-{instance}").listen[role])


def test_a_write_without_a_credential_is_refused_and_the_admin_token_is_taken(chaos):
    url = f"{chaos.controlplane}/v1/policies/catalog"
    current: dict = {}  # an empty policy: the fixture puts the baseline back afterwards

    bare = requests.put(url, json=current, timeout=5)
    assert bare.status_code == 401 and bare.json()["reason"] == "unauthenticated", bare.text
    forged = requests.put(url, json=current, headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert forged.status_code == 401, forged.text
    gone = requests.delete(f"{chaos.controlplane}/v1/services/catalog/instances/catalog-1", timeout=5)
    assert gone.status_code == 401, gone.text

    taken = requests.put(url, json=current, headers=chaos.runner.admin_headers(), timeout=5)
    assert taken.status_code == 200, taken.text  # control: the credential the volume holds is the one it knows


def test_an_instance_token_writes_only_its_own_registration(compose_chaos):
    chaos = compose_chaos
    token = chaos.runner.credentials.instance_token("catalog", "catalog-2")
    url = f"{chaos.controlplane}/v1/services/catalog/instances/catalog-1"
    other = requests.put(
        url, json={"address": "toxiproxy:18001"}, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert other.status_code == 403 and other.json()["reason"] == "not-authorized", other.text
    assert "catalog/catalog-2" in other.json()["error"]


def test_each_sidecar_got_its_token_from_its_own_volume_not_its_configuration(compose_chaos):
    chaos = compose_chaos
    project = chaos.backend.project
    sidecar, app = project.container("sidecar-catalog-1"), project.container("catalog-1")
    config_env = " ".join(sidecar.attrs["Config"]["Env"] or [])
    assert "GATEMESH_BOOTSTRAP_TOKEN" not in config_env and "gm1." not in config_env
    mounts = {m["Destination"]: m for m in sidecar.attrs["Mounts"]}
    assert mounts["/run/gatemesh"]["Name"].endswith("trust-sidecar-catalog-1") and not mounts["/run/gatemesh"]["RW"]
    app_trust = [m["Name"] for m in app.attrs["Mounts"] if "trust-" in (m.get("Name") or "")]
    assert len(app_trust) == 1 and app_trust[0].endswith("trust-catalog-1")  # its own: the app secret

    # the processes (pid 1: the launcher exec'd into them): the sidecar has its own instance's
    # token and the app secret; the app only the secret and the admin token's digest
    creds = chaos.runner.credentials
    side_env, app_env = _environ(sidecar), _environ(app)
    assert str(creds.identify(side_env["GATEMESH_BOOTSTRAP_TOKEN"])) == "catalog/catalog-1"
    assert side_env["GATEMESH_APP_SECRET"] == app_env["GATEMESH_APP_SECRET"] == creds.app_secret("catalog", "catalog-1")
    assert "GATEMESH_BOOTSTRAP_TOKEN" not in app_env and "GATEMESH_ADMIN_TOKEN" not in app_env


def test_an_app_behind_its_sidecar_answers_only_calls_through_it(compose_chaos):
    chaos = compose_chaos
    app = f"http://127.0.0.1:{chaos.runner.topology.component('catalog-1').listen['port']}"
    around = requests.get(f"{app}/products/1", timeout=5)
    assert around.status_code == 403 and around.headers.get("X-Gatemesh-Reason") == "not-via-sidecar", around.text
    knob = requests.put(f"{app}/admin/misbehave", json={"error_rate": 1.0}, timeout=5)
    assert knob.status_code == 403, knob.text
    # control: the same app through the mesh, and its admin with the admin token
    through = [chaos.call("edge", "catalog") for _ in range(6)]
    assert all(r.ok for r in through) and "catalog-1" in {r.instance for r in through}, through
    stats = requests.get(f"{app}/admin/stats", headers=chaos.runner.admin_headers(), timeout=5)
    assert stats.status_code == 200, stats.text


def _environ(container) -> dict[str, str]:
    raw = container.exec_run(["cat", "/proc/1/environ"]).output.decode()
    return dict(e.split("=", 1) for e in raw.split("\0") if "=" in e)


@STRICT
def test_strict_mode_refuses_plain_http_on_a_sidecars_inbound_port(compose_chaos):
    chaos = compose_chaos
    port = _sidecar_port(chaos, "catalog-1", "inbound")
    plain = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert plain.status_code == 400 and plain.headers.get("X-Gatemesh-Reason") == "mtls-required", plain.text

    # TLS without a mesh certificate: the handshake is refused
    refused = _mtls(chaos, "catalog-1")["connections"]["refused-handshake"]
    anonymous = ssl.create_default_context()
    anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
    with pytest.raises((ssl.SSLError, ConnectionError, OSError, NoAnswer)):
        _tls_get(port, anonymous, "/health")
    assert _mtls(chaos, "catalog-1")["connections"]["refused-handshake"] == refused + 1

    # control: the same port, a client holding a certificate from the mesh's CA
    status, _ = _tls_get(port, client_context(chaos.controlplane, chaos.runner.admin_headers()), "/health")
    assert status == 200


@STRICT
def test_strict_mode_calls_cross_toxiproxy_on_mutual_tls(chaos):
    """Every call from the gateway reaches a catalog sidecar through Toxiproxy: the
    sidecars count them as mTLS connections, and none as plain. (The fixture's reset
    closed every connection through Toxiproxy: the calls open new ones.)"""
    before = {i: _mtls(chaos, i) for i in ("catalog-1", "catalog-2", "catalog-3")}
    results = [chaos.call("edge", "catalog") for _ in range(CALLS)]
    assert all(r.ok for r in results), results

    after = {i: _mtls(chaos, i) for i in before}
    assert all(a["mode"] == "strict" for a in after.values())
    assert sum(after[i]["connections"]["mtls"] - before[i]["connections"]["mtls"] for i in before) >= 1
    assert all(after[i]["connections"]["plain"] == before[i]["connections"]["plain"] == 0 for i in before)
    assert {r.instance for r in results} == set(before)


def _mtls(chaos, instance: str) -> dict:
    port = _sidecar_port(chaos, instance, "outbound")  # its admin, plain in every mode
    return requests.get(f"http://127.0.0.1:{port}/-/mtls", timeout=5).json()


def _tls_get(port: int, context: ssl.SSLContext, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="catalog.service.gatemesh.local") as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        # TLS 1.3: the client's side of the handshake completes before the server checks the
        # client's certificate; a refusal is then an alert or a close instead of an answer
        raise NoAnswer(f"no HTTP answer on port {port}: {data[:60]!r}")
    return int(data.split(b" ", 2)[1]), data


class NoAnswer(Exception):
    """The server closed the TLS connection without an answer."""
