"""python -m loadtests.bench.tracing [--hop gateway,sidecar-out] [-n 2000] [--json FILE]

What tracing costs one proxy hop, in callgrind instructions per request (the noise-free
figure, instructions.py): the same hop with tracing off, sampling 1% and 100% of new
traces, its spans exported over OTLP to a real Jaeger (the binary scripts/install-jaeger.sh
builds, on its own loopback ports). The count covers every thread of the proxy process,
so the batch processor's export worker is charged to the hop too.

Each row also says its ratio to HAProxy (one hop, measured under callgrind in the same
run, on the same backend and driver), to the same hop with tracing off, and the
instructions tracing adds per request.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gatemesh.runner.jaeger import JaegerQuery, find_jaeger
from gatemesh.topology.jaeger import jaeger_config
from gatemesh.topology.ports import PortPlan
from gatemesh.tracing.config import DELAY_ENV, ENDPOINT_ENV, RATIO_ENV

from .instructions import CONNECTIONS, MEASURABLE, WARMUP, drive, measure, read_total
from .stack import BASELINE, HOPS, PROXY_CPU, REPO, Hop, Stack, haproxy_conf

SETTINGS = (("off", None), ("1%", 0.01), ("100%", 1.0))  # the rows: label, sampling ratio (None: no tracing)
DEFAULT_HOPS = ("gateway", "sidecar-out")
JAEGER_PORT_BASE = 16700  # Jaeger on 16786..16788, beside the benchmark's 16000.. and 16500..
# Exports when a batch of 512 spans is full, not every 0.5 s: under valgrind a run takes ~50×
# longer, so the timer would fire ~50× as often per request as in real time, and the fixed cost
# of each OTLP request (not the per-span cost) would dominate the figure.
EXPORT_DELAY_MS = "600000"


@contextmanager
def jaeger(run: Path) -> Iterator[str]:
    """A real Jaeger for the spans to go to; yields its OTLP/HTTP base URL."""
    ports = PortPlan.from_base(JAEGER_PORT_BASE)
    conf = run / "jaeger.yaml"
    conf.write_text(jaeger_config(ports))
    log = open(run / "jaeger.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([find_jaeger(), "--config", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        query = JaegerQuery(ports.url(ports.jaeger_query), timeout_s=1.0)
        deadline = time.monotonic() + 60
        while True:
            try:
                query.services()
                break
            except Exception:  # not up yet
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Jaeger did not start (log: {run / 'jaeger.log'})") from None
                time.sleep(0.2)
        yield ports.url(ports.jaeger_otlp)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def tracing_env(endpoint: str, ratio: float | None) -> Iterator[None]:
    """The proxies the stack starts inherit this process's environment."""
    saved = {k: os.environ.get(k) for k in (ENDPOINT_ENV, RATIO_ENV, DELAY_ENV)}
    for k in saved:
        os.environ.pop(k, None)
    if ratio is not None:
        os.environ[ENDPOINT_ENV], os.environ[RATIO_ENV] = endpoint, str(ratio)
        os.environ[DELAY_ENV] = EXPORT_DELAY_MS
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def measure_haproxy(n: int, base: int, run: Path) -> dict:
    """HAProxy's user-space instructions per request under callgrind, on the same backend
    and driver: the baseline the table's ratios are to, measured in the same run."""
    hop = next(h for h in HOPS if h.name == BASELINE)
    out = run / "callgrind.haproxy"
    stack = Stack(base, run, (hop,))
    try:
        stack.start(natives=False, proxies=())  # the backend and the control plane only
        port = stack.port("haproxy")
        (run / "haproxy.cfg").write_text(haproxy_conf(port, stack.port("backend")))
        proc = stack._proc(  # noqa: SLF001 (the stack's own process starter: stopped with it)
            "haproxy",
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "haproxy",
                "-db",
                "-f",
                str(run / "haproxy.cfg"),
            ],
            PROXY_CPU,
        )
        deadline = time.monotonic() + 120
        while drive_safely(port, hop) and time.monotonic() < deadline:
            time.sleep(0.5)
        if drive(port, hop, WARMUP):
            raise RuntimeError("haproxy: warm-up requests failed")
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True, timeout=120)
        failed = drive(port, hop, n)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True, timeout=120)
        dumps = sorted(run.glob("callgrind.haproxy*"), key=lambda p: p.stat().st_mtime)
        total = read_total(dumps[-1])
        done = n // CONNECTIONS * CONNECTIONS
        return {"hop": BASELINE, "tracing": "-", "requests": done, "failed": failed, "per_request": total / done}
    finally:
        stack.stop()


def drive_safely(port: int, hop: Hop) -> bool:
    """True while the proxy does not answer yet (valgrind starts it slowly)."""
    try:
        return drive(port, hop, CONNECTIONS) > 0
    except OSError:
        return True


def rows(results: list[dict], haproxy: float | None) -> list[str]:
    """The table: per hop, each setting's instructions/request, × HAProxy, × off, added."""
    out = [f"{'hop':<12} {'tracing':<8} {'instructions/request':>21} {'× HAProxy':>10} {'× off':>7} {'added':>9}"]
    if haproxy:
        out.append(f"{BASELINE:<12} {'-':<8} {haproxy:>21,.0f} {'1.00':>10} {'':>7} {'':>9}")
    for hop in dict.fromkeys(r["hop"] for r in results):
        mine = [r for r in results if r["hop"] == hop]
        off = next((r["per_request"] for r in mine if r["tracing"] == "off"), None)
        for r in mine:
            vs = f"{r['per_request'] / haproxy:.2f}" if haproxy else "-"
            ratio = f"{r['per_request'] / off:.2f}" if off else "-"
            added = f"{r['per_request'] - off:+,.0f}" if off else "-"
            out.append(f"{hop:<12} {r['tracing']:<8} {r['per_request']:>21,.0f} {vs:>10} {ratio:>7} {added:>9}")
    return out


def count_all(hops: list[str], n: int, port_base: int) -> tuple[float | None, list[dict]]:
    """HAProxy's count (when installed), then each hop at each setting: (haproxy, rows)."""
    try:
        os.sched_setaffinity(0, {0})
    except OSError:
        pass
    results = []
    top = Path(tempfile.mkdtemp(prefix="gatemesh-trace-bench-"))
    haproxy: float | None = None
    try:
        if shutil.which("haproxy"):
            (top / "haproxy").mkdir()
            haproxy = measure_haproxy(n, port_base, top / "haproxy")["per_request"]
            print(f"{BASELINE:<12} {'':<13} {haproxy:>10,.0f} instructions/request", flush=True)
        with jaeger(top) as endpoint:
            for hop in (h for h in HOPS if h.name in hops):
                for label, ratio in SETTINGS:
                    run = top / f"{hop.name}-{label.rstrip('%')}"
                    run.mkdir()
                    started = time.monotonic()
                    with tracing_env(endpoint, ratio):
                        r = measure(hop, n, port_base, REPO, run)
                    r["tracing"] = label
                    results.append(r)
                    print(
                        f"{hop.name:<12} tracing {label:<5} {r['per_request']:>10,.0f} instructions/request "
                        f"({r['requests']} requests, {r['failed']} failed, {time.monotonic() - started:.0f} s)",
                        flush=True,
                    )
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return haproxy, results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.tracing", description=__doc__.splitlines()[0])
    p.add_argument("--hop", default=",".join(DEFAULT_HOPS), help=f"comma-separated, of {', '.join(MEASURABLE)}")
    p.add_argument("-n", type=int, default=2000, help="requests counted per row (default 2000)")
    p.add_argument("--port-base", type=int, default=16500)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("tracing bench: error: valgrind not found; apt-get install valgrind", file=sys.stderr)
        return 2
    wanted = a.hop.split(",")
    unknown = set(wanted) - set(MEASURABLE)
    if unknown:
        print(f"tracing bench: error: unknown hop(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    try:
        haproxy, results = count_all(wanted, a.n, a.port_base)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"tracing bench: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(["", *rows(results, haproxy)]))
    if a.json:
        Path(a.json).write_text(json.dumps({"haproxy": haproxy, "results": results}, indent=2))
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
