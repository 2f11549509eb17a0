"""python -m loadtests.bench [--quick] [--json FILE] [--rounds N] [--port-base N] [--only HOP,...]
                            [--tls] [--instructions] [--tracing] [--scale 1,3,10,30]
                            [--history FILE | --no-history]

Brings up the benchmark stack (see stack.py), drives every hop with wrk, prints the
table with each figure as a ratio to HAProxy from the same run, and stops everything
it started; with --instructions, --tracing and --scale the same run adds the callgrind
counts, what tracing costs a hop (off / 1% / 100%) and the topology's start-up and memory
with tracing off and on (extras.py); with --tls it adds the mutual-TLS rows,
paired with HAProxy with TLS on both sides (tls.py). Every run is appended to a JSON history
and compared with the last one (history.py). Exit status: 0 ok, 1 some hop answered
errors, 2 cannot run here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatemesh.runner import RunnerError
from gatemesh.topology.errors import TopologyError

from . import extras, history, tls
from .procs import memory_kib, pin, tree_cpu_seconds
from .report import legend, summarise, table, tls_table, tlscount_table, with_ratios
from .scale import table as scale_table
from .stack import HOPS, PROXY_CPU, REPO, WRK_CPU, Hop, Stack
from .tls import TLS_HOPS
from .tracing import rows as tracing_rows
from .wrk import PACED_CONNECTIONS, SATURATION_CONNECTIONS, run_wrk, write_script

DEFAULT_PORT_BASE = 16000  # below the test suite's 20000.. and the kernel's ephemeral range


@dataclass(frozen=True)
class Plan:
    rounds: int
    warmup_s: int
    saturation_s: int
    paced_s: int
    unloaded_s: int
    rate: int  # target req/s of the paced run
    paired: bool  # a HAProxy saturation run right before each hop's, for paired ratios

    @property
    def delay_ms(self) -> int:
        return max(1, round(PACED_CONNECTIONS * 1000 / self.rate))


FULL = Plan(rounds=3, warmup_s=1, saturation_s=4, paced_s=3, unloaded_s=3, rate=2000, paired=True)
QUICK = Plan(rounds=1, warmup_s=0, saturation_s=1, paced_s=1, unloaded_s=1, rate=2000, paired=False)


def core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per CPU from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *vals = line.split()
                v = [int(x) for x in vals[:8]]
                out[name[3:]] = (sum(v) - v[3] - v[4], sum(v))
    return out


def busy_share(before: dict, after: dict, cpu: str) -> float | None:
    if cpu not in before or cpu not in after:
        return None
    busy = after[cpu][0] - before[cpu][0]
    total = after[cpu][1] - before[cpu][1]
    return busy / total if total else None


def saturate(stack: Stack, hop: Hop, script: Path, seconds: int) -> dict[str, Any]:
    """`seconds` of wrk at 32 connections; the hop's req/s and its proxies' CPU per request."""
    pids = stack.pids(hop.proxies)
    cpu0, cores0 = tree_cpu_seconds(pids), core_times()
    sat = run_wrk(
        stack.url(hop.port, hop.path), hop.headers, script, connections=SATURATION_CONNECTIONS, duration_s=seconds
    )
    cpu1, cores1 = tree_cpu_seconds(pids), core_times()
    cpu_s = cpu1 - cpu0
    share = cpu_s / sat.duration_s if pids and sat.duration_s else None
    busy = busy_share(cores0, cores1, PROXY_CPU)
    return {
        "wrk": sat,
        "rps": sat.rps,
        "cpu_us": cpu_s / sat.requests * 1e6 if pids and sat.requests else None,
        "proxy_cpu_share": share,
        "proxy_core_busy": busy,
        # what else ran on the proxies' core meanwhile (other users of a shared machine)
        "proxy_core_foreign": max(0.0, busy - (share or 0.0)) if busy is not None else None,
        "wrk_core_busy": busy_share(cores0, cores1, WRK_CPU),
    }


def measure(stack: Stack, hop: Hop, script: Path, plan: Plan, reference: Hop | None) -> dict[str, Any]:
    """One round of one hop. With a `reference` (HAProxy), a saturation run of it comes right
    before the hop's, and the CPU and req/s ratios are taken pair by pair: on a shared
    machine the conditions drift between rows, hardly within half a minute."""
    url = stack.url(hop.port, hop.path)
    load = dict(headers=hop.headers, script=script)
    warm = run_wrk(url, **load, connections=SATURATION_CONNECTIONS, duration_s=plan.warmup_s) if plan.warmup_s else None
    ref = saturate(stack, reference, script, plan.saturation_s) if reference is not None else None
    s = saturate(stack, hop, script, plan.saturation_s)
    sat = s.pop("wrk")
    paced = run_wrk(url, **load, connections=PACED_CONNECTIONS, duration_s=plan.paced_s, delay_ms=plan.delay_ms)
    c1 = run_wrk(url, **load, connections=1, duration_s=plan.unloaded_s)
    # The same, with the hop's proxies moved onto wrk's and the backend's core for the run: at
    # one connection every process waits for the next, and on a VM a wake-up on the other
    # core is what most of the figure above costs (HAProxy adds 0.25 ms across cores, 0.03
    # on one). This one is the proxy's own latency; the saturation runs keep it on its core.
    pids = stack.pids(hop.proxies)
    pin(pids, WRK_CPU)
    try:
        c1_core = run_wrk(url, **load, connections=1, duration_s=plan.unloaded_s)
    finally:
        pin(pids, PROXY_CPU)
    paired = {}
    if ref is not None and ref["cpu_us"] and s["cpu_us"] is not None:
        paired = {
            "ref_cpu_us": ref["cpu_us"],
            "ref_rps": ref["rps"],
            "cpu_vs_ref": s["cpu_us"] / ref["cpu_us"],
            "rps_vs_ref": s["rps"] / ref["rps"] if ref["rps"] else None,
        }
    return {
        "proxies": list(hop.proxies),
        "reference": hop.reference,
        "plain": hop.plain,
        **s,
        **paired,
        "sat_p50_ms": sat.latency_us["p50"] / 1000,
        "sat_p99_ms": sat.latency_us["p99"] / 1000,
        "paced_rps": paced.rps,
        "paced_p50_ms": paced.latency_us["p50"] / 1000,
        "paced_p99_ms": paced.latency_us["p99"] / 1000,
        "c1_rps": c1.rps,
        "c1_p50_ms": c1.latency_us["p50"] / 1000,
        "c1_p99_ms": c1.latency_us["p99"] / 1000,
        "c1_one_core_p50_ms": c1_core.latency_us["p50"] / 1000,
        "requests_total": sat.requests
        + paced.requests
        + c1.requests
        + c1_core.requests
        + (warm.requests if warm else 0),
        "errors": sat.failed + paced.failed + c1.failed + c1_core.failed + (ref["wrk"].failed if ref else 0),
    }


def with_references(wanted: set[str], known: tuple[Hop, ...]) -> set[str]:
    """`wanted`, the rows each is paired with and their plain twins, transitively (a TLS
    row → haproxy-tls → haproxy)."""
    by_name, out, todo = {h.name: h for h in known}, set(), list(wanted)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            if name in by_name:
                todo += [n for n in (by_name[name].reference, by_name[name].plain) if n]
    return out


def environment() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    return {
        "loadavg": os.getloadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "haproxy": version(["haproxy", "-v"]),
        "nginx": version(["nginx", "-v"]),
        "wrk": version(["wrk", "-v"]),
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def code_version(code: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(code), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or str(code)
    except (OSError, subprocess.TimeoutExpired):
        return str(code)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one short round (< 60 s), for CI")
    p.add_argument("--json", metavar="FILE", help="also write the table (and every sample) as JSON")
    p.add_argument("--rounds", type=int, help="interleaved rounds; each figure is the median (default 3, quick 1)")
    p.add_argument("--rate", type=int, help="target req/s of the paced run (default 2000)")
    p.add_argument(
        "--port-base", type=int, default=DEFAULT_PORT_BASE, help=f"ports base..base+54 (default {DEFAULT_PORT_BASE})"
    )
    p.add_argument("--only", help="comma-separated hops to run (haproxy and direct are always run)")
    p.add_argument("--tls", action="store_true", help="also the mutual-TLS rows, against HAProxy with TLS (tls.py)")
    p.add_argument("--keep-logs", metavar="DIR", help="write the processes' logs and configs here")
    p.add_argument(
        "--code",
        metavar="DIR",
        type=Path,
        help="run gatemesh's processes from this source tree (e.g. `git worktree add` of an older "
        "commit) for a before/after comparison; default: this checkout",
    )
    p.add_argument("--instructions", action="store_true", help="also count instructions per request (callgrind)")
    p.add_argument(
        "--tracing", action="store_true", help="also instructions per request with tracing off / 1%% / 100%% (Jaeger)"
    )
    p.add_argument("--scale", metavar="COUNTS", help="also start-up and memory of edge-mesh at these catalog counts")
    p.add_argument("--history", type=Path, default=history.DEFAULT_PATH, help="the JSON-lines history file")
    p.add_argument("--no-history", action="store_true", help="neither append to nor compare with the history")
    a = p.parse_args(argv)

    missing = [t for t in ("wrk", "haproxy", "nginx", "taskset") if shutil.which(t) is None]
    if missing:
        print(
            f"bench: error: {', '.join(missing)} not found; install Debian's haproxy nginx wrk (apt-get install)",
            file=sys.stderr,
        )
        return 2
    if (os.cpu_count() or 1) < 2:
        print("bench: error: needs 2 CPUs (wrk on one, the proxies on the other)", file=sys.stderr)
        return 2
    plan = QUICK if a.quick else FULL
    if a.rounds or a.rate:
        plan = Plan(
            a.rounds or plan.rounds,
            plan.warmup_s,
            plan.saturation_s,
            plan.paced_s,
            plan.unloaded_s,
            a.rate or plan.rate,
            plan.paired,
        )
    known = HOPS + TLS_HOPS
    hops = known if a.tls else HOPS
    if a.quick and not a.tls:  # two of the TLS rows, so CI keeps the mTLS path measured (~10 s)
        hops = HOPS + tuple(h for h in TLS_HOPS if h.name in tls.QUICK_HOPS)
    if a.only:
        wanted = set(a.only.split(",")) | {"direct", "haproxy"}
        unknown = wanted - {h.name for h in known}
        if unknown:
            print(
                f"bench: error: unknown hop(s) {', '.join(sorted(unknown))}; known: {', '.join(h.name for h in known)}",
                file=sys.stderr,
            )
            return 2
        hops = tuple(h for h in known if h.name in with_references(wanted, known))

    run_dir = Path(a.keep_logs) if a.keep_logs else Path(tempfile.mkdtemp(prefix="gatemesh-bench-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    env["code"] = code_version(a.code or REPO)
    print(
        f"bench: gatemesh {env['code']}; load average {env['loadavg'][0]:.2f} {env['loadavg'][1]:.2f} "
        f"{env['loadavg'][2]:.2f}; {plan.rounds} round(s); logs in {run_dir}",
        flush=True,
    )
    stack = Stack(a.port_base, run_dir, hops, code=a.code.resolve() if a.code else REPO)
    started = time.monotonic()
    samples: dict[str, list[dict]] = {h.name: [] for h in hops}
    try:
        stack.start()
        if any(h in TLS_HOPS for h in hops):
            tls.start(stack)
        stack.wait_ready()
        ready_s = time.monotonic() - started
        script = write_script(run_dir)
        by_name = {h.name: h for h in hops}
        for r in range(plan.rounds):
            for hop in hops:
                reference = by_name.get(hop.reference)
                before = tls.handshakes(stack) if tls.strict_sidecar(hop) else None
                s = measure(
                    stack,
                    hop,
                    script,
                    plan,
                    reference if plan.paired and hop.proxies and reference is not hop else None,
                )
                if before is not None:  # mTLS connections the strict sidecars accepted meanwhile
                    s["tls_handshakes"] = tls.handshakes(stack) - before
                samples[hop.name].append(s)
                cpu = f"{s['cpu_us']:.1f} µs/req" if s["cpu_us"] is not None else "–"
                pair = f"{s['cpu_vs_ref']:.2f}× {hop.reference}" if s.get("cpu_vs_ref") is not None else ""
                other = s.get("proxy_core_foreign")
                print(
                    f"  round {r + 1} {hop.name:<12} {s['rps']:>9,.0f} req/s  {cpu:>14} {pair:>22}  "
                    f"c=1 p50 {s['c1_p50_ms']:.3f} ms  other load on core {PROXY_CPU}: "
                    f"{'–' if other is None else f'{other:.0%}'}  errors {s['errors']}",
                    flush=True,
                )
        memory = {name: memory_kib(proc.pid) for name, proc in stack.procs.items()}
        mtls = tls.connections(stack)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    finally:
        stack.stop()
        if not a.keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)

    rows = with_ratios({name: summarise(s) for name, s in samples.items()})
    env["loadavg_after"] = os.getloadavg()
    print()
    print(table(rows))
    if any(h in TLS_HOPS for h in hops):
        print()
        print(tls_table(rows, [h.name for h in hops if h in TLS_HOPS]))
    print()
    print(legend(hops))
    print(
        f"\nload average before {env['loadavg'][0]:.2f}, after {env['loadavg_after'][0]:.2f}; "
        f"stack ready in {ready_s:.1f} s; total {time.monotonic() - started:.0f} s"
    )
    foreign = [
        x["proxy_core_foreign"]
        for ss in samples.values()
        for x in ss
        if x["proxies"] and x.get("proxy_core_foreign") is not None
    ]
    if foreign and max(foreign) > 0.10:
        print(
            f"bench: note: other processes used up to {max(foreign):.0%} of core {PROXY_CPU} during some "
            "saturation runs; CPU figures from a shared core read high (paired ratios soften it)"
        )
    errors = {n: r["errors"] for n, r in rows.items() if r["errors"]}
    counted: list[dict[str, Any]] = []
    tls_counted: list[dict[str, Any]] = []
    scaled: list[dict[str, Any]] = []
    traced: list[dict[str, Any]] = []
    traced_haproxy: float | None = None
    try:
        if a.instructions:
            print("\ninstructions per request (callgrind, 2,000 requests per hop):", flush=True)
            counted = extras.run_instructions(a.code.resolve() if a.code else REPO, a.port_base + 500)
            print(extras.instructions_table(counted))
        if a.instructions and a.tls:
            print("\ninstructions per request with and without mTLS (callgrind, tlscount.py):", flush=True)
            tls_counted = extras.run_tls_instructions(a.port_base + 600)
            print(tlscount_table(tls_counted))
        if a.tracing:
            print("\ninstructions per request with tracing off / 1% / 100% (callgrind, tracing.py):", flush=True)
            traced_haproxy, traced = extras.run_tracing(a.port_base + 700)
            print("\n".join(tracing_rows(traced, traced_haproxy)))
        if a.scale:
            print("\nedge-mesh start-up and memory:", flush=True)
            scaled = extras.run_scale([int(x) for x in a.scale.split(",")], a.port_base + 1000)
            print(scale_table(scaled))
    except (RuntimeError, OSError, subprocess.SubprocessError, RunnerError, TopologyError) as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    entry = {
        "code": env["code"],
        "loadavg": env["loadavg"],
        "rows": rows,
        "instructions": counted,
        "tls_instructions": tls_counted,
        "scale": scaled,
        "tracing": {"haproxy": traced_haproxy, "results": traced},
    }
    if not a.no_history:
        print()
        print(history.compare(history.last(a.history), entry))
        history.append(a.history, entry)
        print(f"history: appended to {a.history}")
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {
                    "environment": env,
                    "plan": vars(plan) | {"delay_ms": plan.delay_ms},
                    "rows": rows,
                    "samples": samples,
                    "memory_kib": memory,
                    "mtls_connections": mtls,
                    "instructions": counted,
                    "tls_instructions": tls_counted,
                    "scale": scaled,
                    "tracing": {"haproxy": traced_haproxy, "results": traced},
                },
                indent=2,
                default=str,
            )
        )
    if errors:
        print(f"bench: hops answered errors (non-2xx or socket errors): {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
