"""python -m loadtests.bench.scale [--catalog 1,3,10,30] [--port-base N] [--json FILE]

Memory and start-up of a whole `edge-mesh` topology as catalog grows: for each count,
`gatemesh up --topology edge-mesh --detach --scale catalog=K` (timed until it returns,
i.e. until every part is healthy and registered), a short warm-up through the gateway,
then RSS and PSS of every process from `gatemesh status --json`, then `gatemesh down`.

PSS (proportional set size) shares each page among the processes mapping it, so PSS
values add up to what the topology really occupies; RSS counts shared libraries once
per process and so overstates a sum.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from .procs import memory_kib
from .stack import REPO

CLI = [sys.executable, "-m", "gatemesh.cli"]
WARMUP_REQUESTS = 300
UP_TIMEOUT_S = 300


def gatemesh(*args: str, timeout_s: float = UP_TIMEOUT_S + 60) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout_s)


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


def measure(k: int, port_base: int) -> dict[str, Any]:
    name = f"bench-scale-{k}"
    gatemesh("down", "--name", name, timeout_s=60)   # a leftover of an interrupted run
    started = time.monotonic()
    up = gatemesh("up", "--topology", "edge-mesh", "--detach", "--port-base", str(port_base),
                  "--scale", f"catalog={k}", "--name", name, "--timeout", str(UP_TIMEOUT_S))
    startup_s = time.monotonic() - started
    try:
        if up.returncode != 0:
            raise RuntimeError(f"gatemesh up (catalog={k}) failed: {(up.stderr or up.stdout).strip()[-400:]}")
        status = json.loads(gatemesh("status", "--json", "--name", name, timeout_s=30).stdout)
        warmed = warm_up(status)
        time.sleep(1.0)
        status = json.loads(gatemesh("status", "--json", "--name", name, timeout_s=30).stdout)
        per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "rss_kib": 0, "pss_kib": 0})
        processes = []
        for inst in status["instances"]:
            mem = memory_kib(inst["pid"]) if inst.get("alive") else {"rss_kib": 0, "pss_kib": 0}
            kind = inst["kind"] if inst["kind"] != "service" else f"service:{inst.get('service')}"
            agg = per_kind[kind]
            agg["count"] += 1
            agg["rss_kib"] += mem["rss_kib"]
            agg["pss_kib"] += mem["pss_kib"]
            processes.append({"name": inst["name"], "kind": inst["kind"], **mem})
        sup = memory_kib(int(status["supervisor_pid"])) if status.get("supervisor_pid") else {"rss_kib": 0, "pss_kib": 0}
        sup_own = {"count": 1, "rss_kib": sup["rss_kib"], "pss_kib": sup["pss_kib"]}
        # the supervisor's tree holds every component: its own share is the tree minus theirs
        for key in ("rss_kib", "pss_kib"):
            sup_own[key] -= sum(p[key] for p in processes)
        per_kind["supervisor"] = sup_own
        total = {key: sum(v[key] for v in per_kind.values()) for key in ("count", "rss_kib", "pss_kib")}
        return {"catalog": k, "startup_s": startup_s, "warmup_ok": warmed, "processes": len(processes) + 1,
                "total": total, "per_kind": dict(per_kind), "detail": processes}
    finally:
        gatemesh("down", "--name", name, timeout_s=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.scale", description=__doc__.splitlines()[0])
    p.add_argument("--catalog", default="1,3,10,30", help="catalog instance counts (default 1,3,10,30)")
    p.add_argument("--port-base", type=int, default=17000, help="gatemesh up --port-base (default 17000)")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    results = []
    for k in (int(x) for x in a.catalog.split(",")):
        print(f"scale: catalog={k} ...", flush=True)
        try:
            r = measure(k, a.port_base)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError) as exc:
            print(f"scale: error: {exc}", file=sys.stderr)
            return 2
        results.append(r)
        print(f"  {r['processes']} processes, up in {r['startup_s']:.1f} s, "
              f"PSS {r['total']['pss_kib'] / 1024:.0f} MiB, RSS sum {r['total']['rss_kib'] / 1024:.0f} MiB", flush=True)
    print()
    print(table(results))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


def table(results: list[dict[str, Any]]) -> str:
    kinds = sorted({k for r in results for k in r["per_kind"]})
    lines = ["| catalog | processes | start-up s | total PSS MiB | total RSS MiB | "
             + " | ".join(f"{k} PSS MiB (n)" for k in kinds) + " |",
             "|" + "---|" * (5 + len(kinds))]
    for r in results:
        cells = [str(r["catalog"]), str(r["processes"]), f"{r['startup_s']:.1f}",
                 f"{r['total']['pss_kib'] / 1024:.0f}", f"{r['total']['rss_kib'] / 1024:.0f}"]
        for k in kinds:
            v = r["per_kind"].get(k)
            cells.append("–" if v is None else f"{v['pss_kib'] / 1024:.0f} ({v['count']})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
