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
from typing import Any

from gatemesh.security.credentials import BOOTSTRAP_ENV
from gatemesh.security.tls import MTLS_ENV

from .stack import BASELINE, PROXY_CPU, WRK_CPU, Hop, Stack, gateway_conf
from .tlsconf import MESH_SERVICE, backend_tls_conf, front_conf, haproxy_tls_conf, issue

TLS_BASELINE = "haproxy-tls"
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
    return "callee-tls" in hop.proxies  # every TLS row but the natives' ends there
