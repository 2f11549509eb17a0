"""The benchmark's mutual-TLS rows (``--tls``): each hop that can be TLS, plain and with mTLS,
against HAProxy with TLS on both sides, in the same run and by the same paired method.

    core 0: wrk → front (HAProxy: plain in, mTLS out; the client side, never charged)
            backend-tls (nginx: mTLS in), the control plane
    core 1: haproxy-tls (mTLS in, mTLS out), haproxy2-tls-a → b (plain → mTLS → plain),
            gateway-key-tls, caller-tls, callee-tls (gatemesh in ``strict`` mode)

wrk cannot present a client certificate, so a strict listener (a sidecar's inbound,
HAProxy's ``verify required`` bind) is reached through ``front``, one HAProxy on wrk's
core with a frontend per target. Its ``-newconn`` backends close the server side after
every answer, so each request costs the target a full handshake: no session resumption
anywhere (the gatemesh server issues no tickets and its client never resumes; HAProxy
is told ``no-ssl-reuse``, ``no-tls-tickets`` and no session cache to match).

Every certificate comes from the control plane's CA (gatemesh/security/ca.py): the
gatemesh proxies fetch their own with a bootstrap token, as in a topology; the bench
asks for the natives' the same way (``/v1/certificates``) and writes them to the run
directory. All leaves are ECDSA P-256, all TLS 1.3 over the same OpenSSL.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gatemesh.security.ca import dns_name
from gatemesh.security.credentials import BOOTSTRAP_ENV
from gatemesh.security.tls import MTLS_ENV

from .stack import BACKEND_BODY, BASELINE, PROXY_CPU, WRK_CPU, Hop, Stack, gateway_conf

TLS_BASELINE = "haproxy-tls"
MESH_SERVICE = "bench-mesh-tls"  # the strict callee's service: its leaf says so, its dialers check it
# gatemesh proxies in strict mode, with a bootstrap token (an --open control plane signs for any)
MTLS_PROXY_ENV = {MTLS_ENV: "strict", BOOTSTRAP_ENV: "bench-token"}
TLS_PROCS = ("backend-tls", "haproxy-tls", "haproxy2-tls-a", "haproxy2-tls-b", "front")
TLS_PROXIES = ("gateway-key-tls", "callee-tls", "caller-tls")
SIDECARS = (  # (process and PORTS prefix, service, instance)
    ("callee-tls", MESH_SERVICE, f"{MESH_SERVICE}-1"),
    ("caller-tls", "bench-client-tls", "client-tls-1"),
)
QUICK_HOPS = ("haproxy-tls", "sidecar-pair-tls")  # `bench --quick` (CI) runs these two of --tls: ~10 s

TLS_HOPS: tuple[Hop, ...] = (
    Hop(
        "haproxy-tls",
        "front → HAProxy (bind ssl verify required; server ssl verify required) → nginx TLS backend",
        "front-haproxy-tls",
        "/api/bench/1",
        ("haproxy-tls",),
        reference=BASELINE,  # its ratio is HAProxy's own price for TLS on both sides
    ),
    Hop(
        "haproxy×2-tls",
        "HAProxy (plain in, mTLS out) → HAProxy (mTLS in, plain out) → backend",
        "haproxy2-tls-a",
        "/api/bench/1",
        ("haproxy2-tls-a", "haproxy2-tls-b"),
        reference=TLS_BASELINE,
        plain="haproxy×2",
    ),
    Hop(
        "sidecar-in-front",
        "front (plain) → sidecar inbound → backend: the plain twin of sidecar-in-tls",
        "front-callee",
        "/api/bench/1",
        ("callee",),
        expect_attempts="sidecar:bench-mesh-1=1",
    ),
    Hop(
        "sidecar-in-tls",
        "front → mTLS → sidecar inbound (strict) → backend",
        "front-callee-tls",
        "/api/bench/1",
        ("callee-tls",),
        expect_attempts=f"sidecar:{MESH_SERVICE}-1=1",
        reference=TLS_BASELINE,
        plain="sidecar-in-front",
    ),
    Hop(
        "sidecar-pair-tls",
        "caller sidecar outbound → mTLS → callee sidecar inbound (strict) → backend",
        "caller-tls-out",
        "/api/bench/1",
        ("caller-tls", "callee-tls"),
        (("Host", MESH_SERVICE),),
        f"sidecar:client-tls-1=1, sidecar:{MESH_SERVICE}-1=1",
        reference=TLS_BASELINE,
        plain="sidecar-pair",
    ),
    Hop(
        "edge-mesh-tls",
        "gateway (key) → mTLS → callee sidecar inbound (strict) → backend",
        "gateway-key-tls",
        "/api/mesh/1",
        ("gateway-key-tls", "callee-tls"),
        (("X-Api-Key", "bench-key"),),
        f"gateway=1, sidecar:{MESH_SERVICE}-1=1",
        reference=TLS_BASELINE,
        plain="edge-mesh",
    ),
    Hop(
        "haproxy-tls-newconn",
        "haproxy-tls with a new TLS connection (full handshake) from front per request",
        "front-haproxy-tls-newconn",
        "/api/bench/1",
        ("haproxy-tls",),
        reference=TLS_BASELINE,
    ),
    Hop(
        "sidecar-in-tls-newconn",
        "sidecar-in-tls with a new TLS connection (full handshake) from front per request",
        "front-callee-tls-newconn",
        "/api/bench/1",
        ("callee-tls",),
        expect_attempts=f"sidecar:{MESH_SERVICE}-1=1",
        reference="haproxy-tls-newconn",
        plain="sidecar-in-tls",
    ),
)


def issue(control_plane: str, service: str, run: Path) -> Path:
    """A leaf for `service` from the control plane's CA, written as cert + key (HAProxy's
    `crt` file) and apart (nginx); also writes the trust bundle as ca.pem. Returns the
    combined file."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .sign(key, hashes.SHA256())
    )
    body = json.dumps({"csr": csr.public_bytes(serialization.Encoding.PEM).decode(), "service": service}).encode()
    req = urllib.request.Request(
        control_plane + "/v1/certificates", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        issued = json.loads(r.read())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    (run / "ca.pem").write_text(issued["bundle"])
    (run / f"{service}.crt").write_text(issued["certificate"])
    (run / f"{service}.key").write_text(key_pem)
    (run / f"{service}.pem").write_text(issued["certificate"] + key_pem)
    return run / f"{service}.pem"


def _server(port: int, run: Path, crt: str, peer: str) -> str:
    """An HAProxy `server` line dialling mTLS: our leaf, the bundle, the peer's name checked."""
    name = dns_name(peer)
    return (
        f"server s1 127.0.0.1:{port} ssl crt {run / (crt + '.pem')} ca-file {run / 'ca.pem'} verify required "
        f"verifyhost {name} sni str({name}) no-ssl-reuse"
    )


def _bind(port: int, run: Path, crt: str | None) -> str:
    if crt is None:
        return f"bind 127.0.0.1:{port}"
    return (
        f"bind 127.0.0.1:{port} ssl crt {run / (crt + '.pem')} ca-file {run / 'ca.pem'} verify required no-tls-tickets"
    )


GLOBAL = """
global
  nbthread 1
  maxconn 8192
  tune.ssl.cachesize 0
defaults
  mode http
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
"""


def haproxy_tls_conf(run: Path, port: int, upstream: int, tls_in: bool, peer: str | None) -> str:
    """One HAProxy as the plain one, TLS on the bind (`tls_in`) and/or to `peer` (a service name)."""
    server = _server(upstream, run, "bench-haproxy", peer) if peer else f"server s1 127.0.0.1:{upstream}"
    bind = _bind(port, run, "bench-haproxy" if tls_in else None)
    return f"{GLOBAL}  option forwardfor\nfrontend fe\n  {bind}\n  default_backend be\nbackend be\n  {server}\n"


def front_conf(stack: Stack) -> str:
    """The client side: one frontend per target, plain from wrk, mTLS (or plain) onwards."""
    run, p = stack.run, stack.port
    targets = (  # (frontend port key, target port key, peer service or None for plain, new connection per request)
        ("front-haproxy-tls", "haproxy-tls", "bench-haproxy", False),
        ("front-callee", "callee-in", None, False),
        ("front-callee-tls", "callee-tls-in", MESH_SERVICE, False),
        ("front-haproxy-tls-newconn", "haproxy-tls", "bench-haproxy", True),
        ("front-callee-tls-newconn", "callee-tls-in", MESH_SERVICE, True),
    )
    out = [GLOBAL]
    for key, target, peer, newconn in targets:
        server = _server(p(target), run, "bench-front", peer) if peer else f"server s1 127.0.0.1:{p(target)}"
        close = "  option http-server-close\n  http-reuse never\n" if newconn else ""
        out.append(f"frontend {key}\n  {_bind(p(key), run, None)}\n  default_backend b-{key}\n")
        out.append(f"backend b-{key}\n{close}  {server}\n")
    return "".join(out)


def backend_tls_conf(run: Path, port: int) -> str:
    """The nginx backend's answer behind an mTLS listener (what haproxy-tls dials)."""
    return f"""
worker_processes 1;
daemon off;
pid {run}/nginx-{port}.pid;
error_log stderr warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {run}/tmp-{port}-body;
  proxy_temp_path {run}/tmp-{port}-proxy;
  fastcgi_temp_path {run}/tmp-{port}-fcgi;
  uwsgi_temp_path {run}/tmp-{port}-uwsgi;
  scgi_temp_path {run}/tmp-{port}-scgi;
  server {{
    listen 127.0.0.1:{port} ssl backlog=4096;
    ssl_certificate {run}/bench.crt;
    ssl_certificate_key {run}/bench.key;
    ssl_client_certificate {run}/ca.pem;
    ssl_verify_client on;
    ssl_session_tickets off;
    ssl_session_cache off;
    location / {{ default_type application/json; return 200 '{BACKEND_BODY}'; }}
  }}
}}
"""


def start(
    stack: Stack, natives: bool = True, proxies: tuple[str, ...] | None = None, wrap: tuple[str, ...] = ()
) -> None:
    """After `stack.start()` (the control plane is up): the leaves, the native TLS processes
    and the strict gatemesh `proxies` (default: those the stack's hops charge), each under
    `wrap` if given (valgrind)."""
    cp, run = stack.url("controlplane"), stack.run
    if proxies is None:
        proxies = tuple(p for p in TLS_PROXIES if any(p in h.proxies for h in stack.hops))
    for service in ("bench", "bench-haproxy", "bench-front"):
        issue(cp, service, run)
    if natives:
        stack.nginx("backend-tls", backend_tls_conf(run, stack.port("backend-tls")), WRK_CPU)
        for name, port, upstream, tls_in, peer in (
            ("haproxy-tls", "haproxy-tls", "backend-tls", True, "bench"),
            ("haproxy2-tls-a", "haproxy2-tls-a", "haproxy2-tls-b", False, "bench-haproxy"),
            ("haproxy2-tls-b", "haproxy2-tls-b", "backend", True, None),
        ):
            conf = haproxy_tls_conf(run, stack.port(port), stack.port(upstream), tls_in, peer)
            stack.haproxy(name, conf, PROXY_CPU)
        stack.haproxy("front", front_conf(stack), WRK_CPU)
    if "gateway-key-tls" in proxies:
        gw = gateway_conf(stack.base, stack.port("gateway-key-tls"), True, mesh_service=MESH_SERVICE)
        stack.gateway("gateway-key-tls", gw, wrap, MTLS_PROXY_ENV)
    for name, service, instance in SIDECARS:
        if name in proxies:
            stack.sidecar(name, service, instance, name, wrap, MTLS_PROXY_ENV)


def connections(stack: Stack) -> dict[str, Any]:
    """Each strict sidecar's own account (``/-/mtls``): inbound connections by kind (mTLS,
    refused) and outbound ones dialled in mTLS or plain. It shows that the TLS rows used
    TLS, and how many handshakes they cost: a few per keep-alive row, one per request with
    ``-newconn``."""
    out = {}
    for name, _, _ in SIDECARS:
        if name in stack.procs:
            with urllib.request.urlopen(stack.url(f"{name}-out", "/-/mtls"), timeout=5) as r:
                out[name] = json.loads(r.read())
    return out


def handshakes(stack: Stack) -> int:
    """mTLS connections the strict sidecars have accepted so far (each a full handshake)."""
    return sum(c["connections"]["mtls"] for c in connections(stack).values())


def strict_sidecar(hop: Hop) -> bool:
    """Whether the hop's path ends at a strict sidecar, whose accepted connections count its handshakes."""
    return any(name in hop.proxies for name, _, _ in SIDECARS[:1])
