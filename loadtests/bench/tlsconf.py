"""The files the --tls rows need: leaves from the control plane's CA, and the configs of the
native TLS processes (HAProxy with TLS on either or both sides, the client-side front,
the nginx TLS backend). tls.py says what runs where and why.

Every TLS listener demands a client certificate from the same CA (``verify required``,
nginx's ``ssl_verify_client on``), every TLS dialler checks its peer's by name; no side
resumes sessions (HAProxy: ``no-ssl-reuse``, ``no-tls-tickets``, no session cache; nginx:
no tickets, no cache), as the gatemesh proxies never do.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gatemesh.security.ca import dns_name

from .stack import BACKEND_BODY, Stack, nginx_head

MESH_SERVICE = "bench-mesh-tls"  # the strict callee's service: its leaf says so, its dialers check it


def csr(service: str) -> tuple[str, str]:
    """A fresh P-256 key and a CSR for `service`: (key PEM, CSR PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, service)]))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, request.public_bytes(serialization.Encoding.PEM).decode()


def write_leaf(run: Path, service: str, key_pem: str, certificate: str, bundle: str) -> Path:
    """The leaf as cert + key in one file (HAProxy's `crt`) and apart (nginx, the driver),
    and the trust bundle as ca.pem. Returns the combined file."""
    (run / "ca.pem").write_text(bundle)
    (run / f"{service}.crt").write_text(certificate)
    (run / f"{service}.key").write_text(key_pem)
    (run / f"{service}.pem").write_text(certificate + key_pem)
    return run / f"{service}.pem"


def issue(control_plane: str, service: str, run: Path) -> Path:
    """A leaf for `service` from the control plane's CA (``POST /v1/certificates``, as a
    proxy asks for its own), written by `write_leaf`."""
    key_pem, csr_pem = csr(service)
    body = json.dumps({"csr": csr_pem, "service": service}).encode()
    req = urllib.request.Request(
        control_plane + "/v1/certificates", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        issued = json.loads(r.read())
    return write_leaf(run, service, key_pem, issued["certificate"], issued["bundle"])


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
    return f"""{nginx_head(run, port)}  server {{
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
