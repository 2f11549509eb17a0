"""python -m loadtests.bench.instructions [--hop gateway,sidecar-out,...] [-n 2000] [--code DIR]
                                         [--mode compiled,pure]

The noise-free figure: user-space instructions one gatemesh proxy executes per request,
counted by valgrind's callgrind. CPU time on a shared machine moves with whatever else
runs (caches, frequency, the other core's load); an instruction count of the same code
on the same input does not, so a before/after comparison can be made on a busy machine.
It leaves out the kernel's share (the socket syscalls, which HAProxy pays alike) and says
nothing about stalls, so it complements the wall-clock benchmark, never replaces it.

For each hop: the nginx backend and the control plane start as in the benchmark, the
proxy starts under callgrind, takes a warm-up of requests, the counters are zeroed
(`callgrind_control -z`), exactly `n` requests go through over 8 keep-alive connections,
and the counters are dumped and read.

Each hop is counted twice by default: compiled (the mypyc build of the hot path, when one
exists for these sources, gatemesh/compiled) and pure Python (GATEMESH_COMPILED=0). The
`mode` of a row is what the proxy really ran: whether mypyc's library was mapped into it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from gatemesh import compiled

from .stack import HOPS, REPO, Hop, Stack, exchange

MEASURABLE = ("gateway", "gateway+key", "sidecar-out", "sidecar-in")
MODES = ("compiled", "pure")
WARMUP = 400
CONNECTIONS = 8


async def _one_connection(port: int, hop: Hop, n: int, failures: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = dict(hop.headers)
    headers.setdefault("Host", "bench")
    request = (f"GET {hop.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    try:
        for _ in range(n):
            status = await exchange(reader, writer, request)
            if status != 200:
                failures.append(status)
    finally:
        writer.close()


def drive(port: int, hop: Hop, n: int) -> int:
    """Exactly `n` requests (rounded to the connection count); returns how many failed."""
    failures: list[int] = []

    async def main() -> None:
        await asyncio.gather(*(_one_connection(port, hop, n // CONNECTIONS, failures) for _ in range(CONNECTIONS)))

    asyncio.run(main())
    return len(failures)


def read_total(dump: Path) -> int:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no total in {dump}")


def runs_compiled(pid: int) -> bool:
    """Whether the process has mypyc's shared library of the compiled hot path mapped: what it
    really runs, whatever the environment asked for (gatemesh/compiled)."""
    try:
        return "__mypyc" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@contextlib.contextmanager
def _mode(mode: str) -> Iterator[None]:
    """The proxies started inside inherit GATEMESH_COMPILED=1 (compiled, when a build of their
    sources exists) or =0 (pure Python)."""
    old = os.environ.get(compiled.ENV)
    os.environ[compiled.ENV] = "1" if mode == "compiled" else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[compiled.ENV]
        else:
            os.environ[compiled.ENV] = old


def measure(hop: Hop, n: int, base: int, code: Path, run: Path, mode: str = "compiled") -> dict:
    proxy = hop.proxies[0]
    out = run / f"callgrind.{proxy}"
    wrap = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}")
    stack = Stack(base, run, (hop,), code=code)
    try:
        with _mode(mode):
            stack.start(natives=False, proxies=(proxy,), wrap=wrap)
        stack.wait_ready(timeout_s=900)
        port = stack.port(hop.port)
        if drive(port, hop, WARMUP):
            raise RuntimeError(f"{hop.name}: warm-up requests failed")
        pid = stack.procs[proxy].pid
        ran = "compiled" if runs_compiled(pid) else "pure"
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True, capture_output=True, timeout=120)
        failed = drive(port, hop, n)
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True, timeout=120)
        dumps = sorted(run.glob(f"callgrind.{proxy}.*"), key=lambda p: p.stat().st_mtime)
        if not dumps:
            raise RuntimeError(f"{hop.name}: callgrind wrote no dump")
        total = read_total(dumps[-1])
        done = n // CONNECTIONS * CONNECTIONS
        return {
            "hop": hop.name,
            "mode": ran,
            "requests": done,
            "failed": failed,
            "instructions": total,
            "per_request": total / done,
        }
    finally:
        stack.stop()


def count_all(hops: list[Hop], n: int, base: int, code: Path, modes: list[str]) -> list[dict]:
    """Each hop in each mode, printed as it comes: the compiled row beside the pure-Python one
    (the before/after of gatemesh/compiled, in one run)."""
    results = []
    for hop in hops:
        for mode in modes:
            run = Path(tempfile.mkdtemp(prefix="gatemesh-callgrind-"))
            started = time.monotonic()
            try:
                r = measure(hop, n, base, code, run, mode)
            finally:
                shutil.rmtree(run, ignore_errors=True)
            results.append(r)
            print(
                f"{r['hop']:<12} {r['mode']:<9} {r['per_request']:>10,.0f} instructions/request "
                f"({r['requests']} requests, {r['failed']} failed, {time.monotonic() - started:.0f} s)",
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.instructions", description=__doc__.splitlines()[0])
    p.add_argument("--hop", default=",".join(MEASURABLE), help=f"comma-separated, of {', '.join(MEASURABLE)}")
    p.add_argument("-n", type=int, default=2000, help="requests counted per hop (default 2000)")
    p.add_argument("--code", type=Path, help="run gatemesh from this source tree (before/after)")
    p.add_argument(
        "--mode", default="compiled,pure", help="compiled (the mypyc build, when there is one), pure, or both (default)"
    )
    p.add_argument("--port-base", type=int, default=16500)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print(
            "instructions: error: valgrind (with callgrind_control) not found; apt-get install valgrind",
            file=sys.stderr,
        )
        return 2
    wanted = a.hop.split(",")
    unknown = set(wanted) - set(MEASURABLE)
    if unknown:
        print(
            f"instructions: error: unknown hop(s) {', '.join(sorted(unknown))}; known: {', '.join(MEASURABLE)}",
            file=sys.stderr,
        )
        return 2
    try:
        os.sched_setaffinity(0, {0})  # our driver beside wrk's core, away from the proxy's
    except OSError:
        pass
    code = a.code.resolve() if a.code else REPO
    try:
        results = count_all([h for h in HOPS if h.name in wanted], a.n, a.port_base, code, a.mode.split(","))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"instructions: error: {exc}", file=sys.stderr)
        return 2
    if a.json:
        Path(a.json).write_text(json.dumps({"code": str(code), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
