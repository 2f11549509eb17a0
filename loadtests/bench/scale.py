"""python -m loadtests.bench.scale [--catalog 1,3,10,30] [--port-base N] [--json FILE]

Memory and start-up of a whole `edge-mesh` topology as catalog grows. For each count the
topology is started with the `ProcessRunner` API (what `gatemesh up` runs under its
supervisor), timed until every part is healthy and registered; a short warm-up goes
through the gateway; then RSS and PSS of every process are read; then it is stopped.

`gatemesh up --scale` caps a service at 16 instances (a guard against typos such as
catalog=500); for counts above that this tool lifts the cap in its own process, which
changes nothing else about the topology.

PSS (proportional set size) shares each page among the processes mapping it, so PSS
values add up to what the topology really occupies; RSS counts shared libraries once
per process and so overstates a sum.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from gatemesh import compiled
from gatemesh.runner import ProcessRunner, RunnerError
from gatemesh.runner.jaeger import find_jaeger
from gatemesh.topology import PortPlan, build_topology, counts
from gatemesh.topology.errors import TopologyError

from .procs import memory_kib

WARMUP_REQUESTS = 300
UP_TIMEOUT_S = 300


def warm_up(status: dict[str, Any]) -> int:
    """Requests through the gateway (catalog list and a product page), so pools and metrics exist."""
    ok = 0
    base = status["gateway"]
    for i in range(WARMUP_REQUESTS):
        path = "/api/catalog" if i % 2 else f"/api/products/{1 + i % 5}"
        req = urllib.request.Request(base + path, headers={"X-Api-Key": status["api_key"]})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
                ok += r.status == 200
        except OSError:
            pass
    return ok


def jaeger_available() -> bool:
    """`gatemesh up` runs Jaeger by default; so does this tool when the binary is installed."""
    try:
        find_jaeger()
    except RunnerError:
        return False
    return True


def measure(k: int, port_base: int, run_dir: Path, jaeger: bool = False) -> dict[str, Any]:
    if k > counts.MAX_INSTANCES:
        counts.MAX_INSTANCES = k  # see the module docstring
    topology = build_topology("edge-mesh", PortPlan.from_base(port_base), {"catalog": k}, jaeger=jaeger)
    runner = ProcessRunner(topology, run_dir)
    started = time.monotonic()
    try:
        runner.start(timeout_s=UP_TIMEOUT_S)
        startup_s = time.monotonic() - started
        warmed = warm_up(runner.status())
        time.sleep(1.0)
        per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "rss_kib": 0, "pss_kib": 0})
        processes = []
        for inst in runner.status()["instances"]:
            mem = memory_kib(inst["pid"]) if inst.get("alive") else {"rss_kib": 0, "pss_kib": 0}
            agg = per_kind[inst["kind"]]
            agg["count"] += 1
            agg["rss_kib"] += mem["rss_kib"]
            agg["pss_kib"] += mem["pss_kib"]
            processes.append({"name": inst["name"], "kind": inst["kind"], **mem})
        server = runner.status().get("forkserver_pid")
        if server is not None:  # the components' pre-imported parent: its share of the pages is theirs too
            mem = memory_kib(server, tree=False)  # alone: the components below it are counted above
            per_kind["forkserver"] = {"count": 1, **mem}
            processes.append({"name": "forkserver", "kind": "forkserver", **mem})
        total = {key: sum(v[key] for v in per_kind.values()) for key in ("count", "rss_kib", "pss_kib")}
        return {
            "catalog": k,
            "jaeger": jaeger,
            "compiled": compiled.active(),  # the components inherit this process's environment and sources
            "startup_s": startup_s,
            "warmup_ok": warmed,
            "processes": len(processes),
            "total": total,
            "per_kind": dict(per_kind),
            "detail": processes,
        }
    finally:
        runner.stop()


def measure_all(catalogs: list[int], port_base: int, jaeger: bool) -> list[dict[str, Any]]:
    """Each catalog count in turn, a line printed as each is done."""
    results = []
    for k in catalogs:
        print(f"scale: catalog={k} ...", flush=True)
        with tempfile.TemporaryDirectory(prefix="gatemesh-scale-") as run_dir:
            r = measure(k, port_base, Path(run_dir), jaeger)
        results.append(r)
        print(
            f"  {r['processes']} processes, up in {r['startup_s']:.1f} s, "
            f"PSS {r['total']['pss_kib'] / 1024:.0f} MiB, RSS sum {r['total']['rss_kib'] / 1024:.0f} MiB",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.scale", description=__doc__.splitlines()[0])
    p.add_argument("--catalog", default="1,3,10,30", help="catalog instance counts (default 1,3,10,30)")
    p.add_argument("--port-base", type=int, default=17000, help="gatemesh up --port-base (default 17000)")
    p.add_argument(
        "--no-jaeger", action="store_true", help="without Jaeger (default: with it, as `gatemesh up`, when installed)"
    )
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    try:
        results = measure_all(
            [int(x) for x in a.catalog.split(",")], a.port_base, jaeger=not a.no_jaeger and jaeger_available()
        )
    except (RunnerError, TopologyError, OSError, KeyError) as exc:
        print(f"scale: error: {exc}", file=sys.stderr)
        return 2
    print()
    print(table(results))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


def table(results: list[dict[str, Any]]) -> str:
    """Totals, and per kind of process: how many, and the mean RSS / PSS of one."""
    kinds = sorted({k for r in results for k in r["per_kind"]})
    lines = [
        "| catalog | Jaeger | hot path | processes | start-up s | total PSS MiB | total RSS MiB | "
        + " | ".join(f"{k}: n, RSS/PSS MiB each" for k in kinds)
        + " |",
        "|" + "---|" * (7 + len(kinds)),
    ]
    for r in results:
        cells = [
            str(r["catalog"]),
            "yes" if r.get("jaeger") else "no",
            "compiled" if r.get("compiled") else "pure",
            str(r["processes"]),
            f"{r['startup_s']:.1f}",
            f"{r['total']['pss_kib'] / 1024:.0f}",
            f"{r['total']['rss_kib'] / 1024:.0f}",
        ]
        for k in kinds:
            v = r["per_kind"].get(k)
            cells.append(
                "–"
                if not v
                else f"{v['count']}: {v['rss_kib'] / 1024 / v['count']:.1f} / {v['pss_kib'] / 1024 / v['count']:.1f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
