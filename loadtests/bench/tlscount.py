"""python -m loadtests.bench.tlscount [--only NAME,...] [-n 2000] [--handshakes 100] [--json FILE]

What mutual TLS costs one hop in instructions (callgrind, the noise-free figure of
instructions.py), beside the same hop plain and beside HAProxy, same driver, same run:

    haproxy            driver → HAProxy → nginx backend
    haproxy-tls        driver ─mTLS→ HAProxy ─mTLS→ nginx TLS backend   (TLS on both sides)
    sidecar-in         driver → sidecar inbound → backend
    sidecar-in-tls     driver ─mTLS→ strict sidecar inbound → backend    (TLS's server side)
    sidecar-out        driver → sidecar outbound → callee sidecar* → backend
    sidecar-out-tls    driver → sidecar outbound ─mTLS→ strict callee* → backend (the client side)
    *-newconn          the TLS rows above with a new connection per request: the handshake

(* runs without valgrind: only the first proxy of each row is counted.) OpenSSL runs in
the proxy's process, so its instructions are in the count, for HAProxy and gatemesh
alike (the same libssl). Unlike instructions.py, the driver opens its 8 keep-alive
connections before the counters are zeroed, so a keep-alive row holds no handshake at
all; a ``-newconn`` row opens one per request (one at a time) and reads one answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gatemesh.security.ca import dns_name

from . import tls
from .instructions import CONNECTIONS, WARMUP, read_total
from .report import tlscount_table
from .stack import PROXY_CPU, REPO, WRK_CPU, Stack, exchange, haproxy_conf
from .tlsconf import MESH_SERVICE, backend_tls_conf, haproxy_tls_conf

START_TIMEOUT_S = 900.0  # valgrind starts a Python proxy in a minute or two on a busy machine


@dataclass(frozen=True)
class Row:
    name: str
    counted: str  # the process under callgrind
    port: str  # where the driver connects (a key of PORTS)
    peer: str | None = None  # the service whose leaf the driver checks: it speaks mTLS (None: plain)
    host: str = "bench"  # the request's Host (a sidecar's outbound routes by it)
    newconn: bool = False  # a new connection per request
    twin: str | None = None  # the row without what this one adds (TLS, or the handshake)
    native: str | None = None  # HAProxy's row of the same kind


ROWS = (
    Row("haproxy", "haproxy", "haproxy"),
    Row("haproxy-tls", "haproxy-tls", "haproxy-tls", "bench-haproxy", twin="haproxy"),
    Row("sidecar-in", "callee", "callee-in", native="haproxy"),
    Row("sidecar-in-tls", "callee-tls", "callee-tls-in", MESH_SERVICE, twin="sidecar-in", native="haproxy-tls"),
    Row("sidecar-out", "caller", "caller-out", host="bench-mesh", native="haproxy"),
    Row(
        "sidecar-out-tls",
        "caller-tls",
        "caller-tls-out",
        host=MESH_SERVICE,
        twin="sidecar-out",
        native="haproxy-tls",
    ),
    Row("haproxy-tls-newconn", "haproxy-tls", "haproxy-tls", "bench-haproxy", newconn=True, twin="haproxy-tls"),
    Row(
        "sidecar-in-tls-newconn",
        "callee-tls",
        "callee-tls-in",
        MESH_SERVICE,
        newconn=True,
        twin="sidecar-in-tls",
        native="haproxy-tls-newconn",
    ),
)


def client_context(run: Path) -> ssl.SSLContext:
    """The driver's side: the bench's own leaf from the same CA, the peer checked by name."""
    ctx = ssl.create_default_context(cafile=str(run / "ca.pem"))
    ctx.load_cert_chain(run / "bench-front.crt", run / "bench-front.key")
    return ctx


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> bool:
    return await exchange(*conn, request) == 200


async def _session(
    row: Row, port: int, ctx: ssl.SSLContext | None, warmup: int, n: int, zero: Callable[[], None]
) -> int:
    """Warm up on 8 connections, zero the counters, then `n` requests; how many failed."""
    request = f"GET /api/bench/1 HTTP/1.1\r\nHost: {row.host}\r\n\r\n".encode()
    name = dns_name(row.peer) if row.peer else None

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=name)

    async def run(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], count: int) -> int:
        return sum([not await _exchange(conn, request) for _ in range(count)])

    conns = [await connect() for _ in range(CONNECTIONS)]
    loop = asyncio.get_running_loop()
    try:
        if sum(await asyncio.gather(*(run(c, warmup // CONNECTIONS) for c in conns))):
            raise RuntimeError(f"{row.name}: warm-up requests failed")
        await loop.run_in_executor(None, zero)
        if not row.newconn:
            return sum(await asyncio.gather(*(run(c, n // CONNECTIONS) for c in conns)))
        failed = 0
        for _ in range(n):
            conn = await connect()
            failed += not await _exchange(conn, request)
            conn[1].close()
            await conn[1].wait_closed()
        return failed
    finally:
        for _, writer in conns:
            writer.close()


def _start(row: Row, stack: Stack, wrap: tuple[str, ...]) -> None:
    """The backend and the control plane, the row's processes, the counted one under `wrap`."""
    run = stack.run
    stack.start(natives=False, proxies=())
    if row.counted.startswith("haproxy"):
        tls.start(stack, natives=False, proxies=())  # the leaves only
        if row.counted == "haproxy":
            conf = haproxy_conf(stack.port("haproxy"), stack.port("backend"))
        else:
            stack.nginx("backend-tls", backend_tls_conf(run, stack.port("backend-tls")), WRK_CPU)
            conf = haproxy_tls_conf(run, stack.port("haproxy-tls"), stack.port("backend-tls"), True, "bench")
        (run / f"{row.counted}.cfg").write_text(conf)
        stack._proc(row.counted, [*wrap, "haproxy", "-db", "-f", str(run / f"{row.counted}.cfg")], PROXY_CPU)  # noqa: SLF001
    elif row.counted == "callee":
        stack.sidecar("callee", "bench-mesh", "bench-mesh-1", "callee", wrap)
    elif row.counted == "caller":
        stack.sidecar("callee", "bench-mesh", "bench-mesh-1", "callee")
        stack.sidecar("caller", "bench-client", "client-1", "caller", wrap)
    elif row.counted == "callee-tls":
        tls.start(stack, natives=False, proxies=("callee-tls",), wrap=wrap)
    else:
        tls.start(stack, natives=False, proxies=("callee-tls",))
        tls.start(stack, natives=False, proxies=("caller-tls",), wrap=wrap)


def measure(row: Row, n: int, base: int, run: Path) -> dict:
    out = run / f"callgrind.{row.counted}"
    wrap = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
    stack = Stack(base, run, ())
    try:
        _start(row, stack, wrap)
        port, ctx = stack.port(row.port), client_context(run) if row.peer else None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # ready: one request through answers 200 (valgrind starts slowly)
            try:
                if asyncio.run(_session(replace(row, newconn=False), port, ctx, CONNECTIONS, 0, lambda: None)) == 0:
                    break
            except (OSError, RuntimeError, ssl.SSLError, asyncio.IncompleteReadError):
                pass
            if time.monotonic() > deadline or not stack.procs[row.counted].alive():
                raise RuntimeError(f"{row.name}: no answer ({stack.procs[row.counted].log_tail()})")
            time.sleep(0.5)
        pid = stack.procs[row.counted].pid

        def zero() -> None:
            subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True, timeout=120)

        failed = asyncio.run(_session(row, port, ctx, WARMUP, n, zero))
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True, timeout=120)
        dumps = sorted(run.glob(f"callgrind.{row.counted}*"), key=lambda p: p.stat().st_mtime)
        if not dumps:
            raise RuntimeError(f"{row.name}: callgrind wrote no dump")
        total = read_total(dumps[-1])
        done = n if row.newconn else n // CONNECTIONS * CONNECTIONS
        counts = {"requests": done, "failed": failed, "instructions": total, "per_request": total / done}
        return {"hop": row.name, "twin": row.twin, "native": row.native, **counts}
    finally:
        stack.stop()


def run_all(names: list[str], n: int, handshakes: int, base: int) -> list[dict]:
    results = []
    for row in (r for r in ROWS if r.name in names):
        run = Path(tempfile.mkdtemp(prefix="gatemesh-tlscount-"))
        started = time.monotonic()
        try:
            r = measure(row, handshakes if row.newconn else n, base, run)
        finally:
            shutil.rmtree(run, ignore_errors=True)
        print(
            f"  {r['hop']:<24} {r['per_request']:>12,.0f} instructions/request "
            f"({r['requests']} requests, {r['failed']} failed, {time.monotonic() - started:.0f} s)",
            flush=True,
        )
        results.append(r)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.tlscount", description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(r.name for r in ROWS), help="comma-separated rows")
    p.add_argument("-n", type=int, default=2000, help="requests counted per keep-alive row (default 2000)")
    p.add_argument("--handshakes", type=int, default=100, help="new connections per -newconn row (default 100)")
    p.add_argument("--port-base", type=int, default=16500)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None or not shutil.which("haproxy"):
        print("tlscount: error: needs valgrind and haproxy (apt-get install valgrind haproxy)", file=sys.stderr)
        return 2
    names = a.only.split(",")
    unknown = set(names) - {r.name for r in ROWS}
    if unknown:
        print(f"tlscount: error: unknown row(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        os.sched_setaffinity(0, {int(WRK_CPU)})  # the driver beside wrk's core, away from the proxy's
    except OSError:
        pass
    try:
        results = run_all(names, a.n, a.handshakes, a.port_base)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"tlscount: error: {exc}", file=sys.stderr)
        return 2
    print("\n" + tlscount_table(results))
    if a.json:
        Path(a.json).write_text(json.dumps({"code": str(REPO), "results": results}, indent=2))
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
