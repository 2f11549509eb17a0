"""What the benchmark brings up on loopback, and the hops it measures.

    core 0: wrk, the nginx backend, the control plane
    core 1: every proxy under test (HAProxy, nginx, gateways, sidecars)

Ports are `base + offset`. Service names at the control plane:

    bench       → the nginx backend              (a gateway or a sidecar calls it directly)
    bench-mesh  → the callee sidecar's inbound    (registered by that sidecar itself)
    bench-out   → the caller sidecar's outbound   (the gateway's way into the mesh for the
                                                  3-proxy chain; Host: bench-mesh picks the target)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .procs import Proc, port_free, wait_http

REPO = Path(__file__).resolve().parents[2]
WRK_CPU, PROXY_CPU = "0", "1"
API_KEY = "bench-key"
# A small JSON document, like one catalog product.
BACKEND_BODY = (
    '{"id":1,"name":"Walnut desk lamp","description":"A small lamp for a desk","price":39.5,"instance":"nginx"}'
)
TTL_S = 300.0  # the control plane's maximum; a heartbeat thread renews it

PORTS = {  # offset from --port-base
    "backend": 0,
    "haproxy": 1,
    "nginx": 2,
    "controlplane": 10,
    "haproxy2-a": 3,
    "haproxy2-b": 4,
    "haproxy3-a": 5,
    "haproxy3-b": 6,
    "haproxy3-c": 7,
    "gateway": 20,
    "gateway-key": 21,
    "callee-in": 30,
    "callee-out": 31,
    "caller-in": 32,
    "caller-out": 33,
    # --tls (tls.py): the natives with TLS, the client-side front's frontends, the strict gatemesh proxies
    "backend-tls": 40,
    "haproxy-tls": 41,
    "haproxy2-tls-a": 42,
    "haproxy2-tls-b": 43,
    "front-haproxy-tls": 44,
    "front-callee": 45,
    "front-callee-tls": 46,
    "front-haproxy-tls-newconn": 47,
    "front-callee-tls-newconn": 48,
    "gateway-key-tls": 50,
    "callee-tls-in": 51,
    "callee-tls-out": 52,
    "caller-tls-in": 53,
    "caller-tls-out": 54,
}


@dataclass(frozen=True)
class Hop:
    name: str
    what: str  # one line for the table's legend
    port: str  # entry point (key of PORTS)
    path: str
    proxies: tuple[str, ...]  # processes whose CPU is charged to this row
    headers: tuple[tuple[str, str], ...] = ()
    expect_attempts: str | None = None  # X-Gatemesh-Attempts the answer must carry (checks the route)
    reference: str = "haproxy"  # the row this one is paired with and its ratios are to
    plain: str | None = None  # a TLS row's plain twin: the row its "× plain" is to


HOPS: tuple[Hop, ...] = (
    Hop("direct", "wrk → nginx backend (no proxy)", "backend", "/api/bench/1", ()),
    Hop(
        "haproxy",
        "HAProxy 2.6, HTTP mode, keep-alive to the backend, X-Forwarded-For",
        "haproxy",
        "/api/bench/1",
        ("haproxy",),
    ),
    Hop("nginx", "nginx reverse proxy, upstream keepalive, X-Forwarded-For", "nginx", "/api/bench/1", ("nginx",)),
    Hop(
        "haproxy×2",
        "two HAProxies in a row: the native cost of a two-proxy path",
        "haproxy2-a",
        "/api/bench/1",
        ("haproxy2-a", "haproxy2-b"),
    ),
    Hop(
        "haproxy×3",
        "three HAProxies in a row: the native cost of a three-proxy path",
        "haproxy3-a",
        "/api/bench/1",
        ("haproxy3-a", "haproxy3-b", "haproxy3-c"),
    ),
    Hop(
        "gateway",
        "gatemesh gateway, default patterns, API management off",
        "gateway",
        "/api/bench/1",
        ("gateway",),
        expect_attempts="gateway=1",
    ),
    Hop(
        "gateway+key",
        "gatemesh gateway, default patterns, API key + rate limit checked",
        "gateway-key",
        "/api/bench/1",
        ("gateway-key",),
        (("X-Api-Key", API_KEY),),
        "gateway=1",
    ),
    Hop(
        "sidecar-out",
        "one sidecar, outbound side (Host-routed, default mesh patterns) → backend",
        "caller-out",
        "/api/bench/1",
        ("caller",),
        (("Host", "bench"),),
        "sidecar:client-1=1",
    ),
    Hop(
        "sidecar-in",
        "one sidecar, inbound side (deadline only) → backend",
        "callee-in",
        "/api/bench/1",
        ("callee",),
        (),
        "sidecar:bench-mesh-1=1",
    ),
    Hop(
        "sidecar-pair",
        "caller sidecar outbound → callee sidecar inbound → backend",
        "caller-out",
        "/api/bench/1",
        ("caller", "callee"),
        (("Host", "bench-mesh"),),
        "sidecar:client-1=1, sidecar:bench-mesh-1=1",
    ),
    Hop(
        "edge-mesh",
        "gateway (key) → callee sidecar inbound → backend",
        "gateway-key",
        "/api/mesh/1",
        ("gateway-key", "callee"),
        (("X-Api-Key", API_KEY),),
        "gateway=1, sidecar:bench-mesh-1=1",
    ),
    Hop(
        "edge-mesh-3",
        "gateway (key) → caller sidecar outbound → callee sidecar inbound → backend",
        "gateway-key",
        "/api/mesh3/1",
        ("gateway-key", "caller", "callee"),
        (("X-Api-Key", API_KEY), ("Host", "bench-mesh")),
        "gateway=1, sidecar:client-1=1, sidecar:bench-mesh-1=1",
    ),
)
BASELINE = "haproxy"
GATEMESH_PROXIES = ("gateway", "gateway-key", "callee", "caller")


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    """One request on a kept-alive connection, its answer read to the end (Content-Length
    framing: every answer in the bench has one); its status, 0 if the connection closed."""
    writer.write(raw)
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return int(status.split()[1]) if status else 0


def nginx_head(run: Path, port: int) -> str:
    """The start of every nginx config here, up to inside ``http {``: one worker, no
    access log, connections kept for the whole run, temp paths in the run's own folder."""
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
"""


def nginx_conf(run: Path, port: int, body: str | None = None, upstream: int | None = None) -> str:
    """One worker; a backend that returns `body`, or a proxy to `upstream` with keep-alive."""
    if body is not None:
        location = f"default_type application/json; return 200 '{body}';"
        up = ""
    else:
        up = f"upstream b {{ server 127.0.0.1:{upstream}; keepalive 128; keepalive_requests 100000000; }}"
        location = (
            'proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; '
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"
        )
    return f"""{nginx_head(run, port)}  {up}
  server {{ listen 127.0.0.1:{port} backlog=4096; location / {{ {location} }} }}
}}
"""


def haproxy_conf(port: int, upstream: int) -> str:
    return f"""
global
  nbthread 1
  maxconn 8192
defaults
  mode http
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:{port}
  default_backend be
backend be
  server s1 127.0.0.1:{upstream}
"""


def gateway_conf(base: int, port: int, with_key: bool, mesh_service: str = "bench-mesh") -> dict:
    """The default edge-mesh gateway config (composition on, default policies), with our routes."""
    apimgmt = (
        {
            "keys": {API_KEY: {"routes": ["*"]}},
            # checked on every request, never throttling the benchmark
            "rate_limit": {"enabled": True, "rate_per_s": 1e9, "burst": 1_000_000_000},
        }
        if with_key
        else {"enabled": False}
    )
    return {
        "listen": f"127.0.0.1:{port}",
        "control_plane": f"http://127.0.0.1:{base + PORTS['controlplane']}",
        "proxy_name": "gateway",
        "routes": [
            {"name": "bench", "prefix": "/api/bench", "service": "bench"},
            {"name": "mesh", "prefix": "/api/mesh", "service": mesh_service},
            {"name": "mesh3", "prefix": "/api/mesh3", "service": "bench-out"},
        ],
        "composition": {"enabled": True},
        "apimgmt": apimgmt,
        "policies": {"*": {}},
    }


class Stack:
    """Starts everything, keeps the registrations alive, stops everything by PID."""

    def __init__(self, base: int, run: Path, hops: tuple[Hop, ...] = HOPS, code: Path = REPO):
        self.base = base
        self.run = run
        self.hops = hops
        self.code = code  # the source tree gatemesh's processes run from (another checkout: a before/after run)
        self.procs: dict[str, Proc] = {}
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def port(self, key: str) -> int:
        return self.base + PORTS[key]

    def url(self, key: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port(key)}{path}"

    def _proc(self, name: str, argv: list[str], cpus: str, env: dict[str, str] | None = None) -> Proc:
        extra = dict(env or {})
        if self.code != REPO:
            extra["PYTHONPATH"] = str(self.code)
        env = dict(os.environ, **extra) if extra else None  # None: inherit ours
        p = Proc(name, argv, cpus, self.run / f"{name}.log", env=env, cwd=self.code).start()
        self.procs[name] = p
        return p

    def nginx(self, name: str, conf: str, cpus: str) -> Proc:
        path = self.run / f"{name}.conf"
        path.write_text(conf)
        return self._proc(name, ["nginx", "-p", str(self.run), "-e", "stderr", "-c", str(path)], cpus)

    def haproxy(self, name: str, conf: str, cpus: str) -> Proc:
        (self.run / f"{name}.cfg").write_text(conf)
        return self._proc(name, ["haproxy", "-db", "-f", str(self.run / f"{name}.cfg")], cpus)

    def gateway(self, name: str, conf: dict, wrap: tuple[str, ...] = (), env: dict[str, str] | None = None) -> Proc:
        path = self.run / f"{name}.json"
        path.write_text(json.dumps(conf, indent=2))
        return self._proc(name, [*wrap, sys.executable, "-m", "gateway", "--config", str(path)], PROXY_CPU, env)

    def sidecar(
        self,
        name: str,
        service: str,
        instance: str,
        ports: str,
        wrap: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> Proc:
        """A sidecar for `service` in front of the nginx backend, on PORTS `ports`-in and `ports`-out."""
        inbound, outbound = self.port(f"{ports}-in"), self.port(f"{ports}-out")
        argv = [*wrap, sys.executable, "-m", "mesh.sidecar", "--service", service, "--instance", instance]
        argv += ["--app", f"127.0.0.1:{self.port('backend')}", "--inbound-port", str(inbound)]
        argv += ["--outbound-port", str(outbound), "--advertise", f"127.0.0.1:{inbound}"]
        argv += ["--control-plane", self.url("controlplane"), "--ttl-s", "30"]
        return self._proc(name, argv, PROXY_CPU, env)

    def start(
        self, *, natives: bool = True, proxies: tuple[str, ...] = GATEMESH_PROXIES, wrap: tuple[str, ...] = ()
    ) -> None:
        """Start the backend, the control plane, HAProxy and nginx (`natives`) and the
        gatemesh `proxies`, each of those under the `wrap` command if given (valgrind)."""
        busy = [k for k in PORTS if not port_free(self.port(k))]
        if busy:
            raise RuntimeError(
                f"ports in use: {', '.join(f'{k}={self.port(k)}' for k in busy)}; choose another --port-base"
            )
        b = self.base
        self.nginx("backend", nginx_conf(self.run, self.port("backend"), body=BACKEND_BODY), WRK_CPU)
        if natives:
            self.nginx("nginx", nginx_conf(self.run, self.port("nginx"), upstream=self.port("backend")), PROXY_CPU)
            for chain in (["haproxy"], ["haproxy2-a", "haproxy2-b"], ["haproxy3-a", "haproxy3-b", "haproxy3-c"]):
                for name, nxt in zip(chain, chain[1:] + ["backend"], strict=False):
                    self.haproxy(name, haproxy_conf(self.port(name), self.port(nxt)), PROXY_CPU)
        self._proc(
            "controlplane",
            [sys.executable, "-m", "mesh.controlplane", "--port", str(self.port("controlplane")), *self._open()],
            WRK_CPU,
        )
        wait_http(self.url("controlplane") + "/health", 20, proc=self.procs["controlplane"])
        self.register("bench", "bench-1", self.port("backend"))
        self.register("bench-out", "client-1-out", self.port("caller-out"))
        for name, with_key in (("gateway", False), ("gateway-key", True)):
            if name in proxies:
                self.gateway(name, gateway_conf(b, self.port(name), with_key), wrap)
        if "callee" in proxies:
            self.sidecar("callee", "bench-mesh", "bench-mesh-1", "callee", wrap)
        if "caller" in proxies:
            self.sidecar("caller", "bench-client", "client-1", "caller", wrap)
        self._beat = threading.Thread(target=self._heartbeat, name="bench-heartbeat", daemon=True)
        self._beat.start()

    def _open(self) -> list[str]:
        """`--open` (writes without a credential) for a control plane that has credentials;
        an older tree run with --code has neither, and no such flag."""
        main = self.code / "mesh" / "controlplane" / "__main__.py"
        return ["--open"] if main.exists() and '"--open"' in main.read_text() else []

    def register(self, service: str, instance: str, port: int) -> None:
        body = json.dumps({"address": f"127.0.0.1:{port}", "ttl_s": TTL_S}).encode()
        req = urllib.request.Request(
            self.url("controlplane", f"/v1/services/{service}/instances/{instance}"),
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5):
            pass

    def _heartbeat(self) -> None:
        while not self._stop.wait(TTL_S / 4):
            try:
                self.register("bench", "bench-1", self.port("backend"))
                self.register("bench-out", "client-1-out", self.port("caller-out"))
            except OSError:
                pass

    def wait_ready(self, timeout_s: float = 60.0, hops: tuple[Hop, ...] | None = None) -> dict[str, dict]:
        """Every hop answers 200 through the route it claims to take; returns each hop's answer headers."""
        seen = {}
        for hop in self.hops if hops is None else hops:
            proc = self.procs.get(hop.proxies[0]) if hop.proxies else self.procs["backend"]
            status, headers, _ = wait_http(self.url(hop.port, hop.path), timeout_s, dict(hop.headers), proc=proc)
            if hop.expect_attempts is not None and headers.get("x-gatemesh-attempts") != hop.expect_attempts:
                raise RuntimeError(
                    f"hop {hop.name} answered through {headers.get('x-gatemesh-attempts')!r}, "
                    f"not {hop.expect_attempts!r}"
                )
            seen[hop.name] = headers
        return seen

    def pids(self, names: tuple[str, ...]) -> list[int]:
        return [self.procs[n].pid for n in names]

    def stop(self) -> None:
        self._stop.set()
        for p in reversed(list(self.procs.values())):
            p.stop()
