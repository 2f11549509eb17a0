"""Measure what an open dashboard costs the proxies: CPU time per request of the gateway
and every sidecar, under the same built-in load, with a page open in Chromium and with
none (the aggregator idle), in alternating windows of one run.

    python -m gatemesh.dashboard.overhead --name demo [--rate 50] [--window-s 30] [--rounds 2]

CPU time is utime+stime from /proc/<pid>/stat of each proxy process (its whole process
group); requests are what the built-in load sent in the window. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from gatemesh.dashboard.browser import launch
from gatemesh.runner.control import Control
from gatemesh.runner.state import read_state, run_dir
from gatemesh.runner.webclient import json_request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def window(dash: str, pids: list[int], seconds: float) -> dict[str, float]:
    sent0, cpu0 = json_request("GET", dash + "api/load")["sent"], cpu_s(pids)
    time.sleep(seconds)
    sent, cpu = json_request("GET", dash + "api/load")["sent"] - sent0, cpu_s(pids) - cpu0
    return {"requests": sent, "cpu_s": cpu, "cpu_ms_per_request": 1000 * cpu / sent if sent else float("nan")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="default")
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--window-s", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--linger-s", type=float, default=35.0, help="wait after closing the page (the hub's linger)")
    args = p.parse_args(argv)
    state = read_state(run_dir(args.name))
    if not state:
        print(f"overhead: no run named {args.name!r}", file=sys.stderr)
        return 1
    status = Control.from_state(state).status()
    dash = status["dashboard"]
    pids = [i["pid"] for i in status["instances"] if i["kind"] in ("gateway", "sidecar") and i["alive"]]
    total_s = args.rounds * 2 * (args.window_s + args.linger_s) + 60
    json_request(
        "POST",
        dash + "api/load",
        {"rate_per_s": args.rate, "duration_s": min(1800, total_s), "mix": {"products": 1, "storefront": 1}},
    )
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict[str, Any]]] = {"closed": [], "open": []}
    with sync_playwright() as pw:
        for _ in range(args.rounds):
            time.sleep(args.linger_s)  # the hub has stopped polling
            results["closed"].append(window(dash, pids, args.window_s))
            ctx = launch(pw, "gatemesh-overhead-")
            page = ctx.new_page()
            page.goto(dash)
            time.sleep(3)
            results["open"].append(window(dash, pids, args.window_s))
            ctx.close()
    json_request("POST", dash + "api/load/stop", {})
    summary = {k: sum(w["cpu_s"] for w in v) * 1000 / max(1, sum(w["requests"] for w in v)) for k, v in results.items()}
    summary["ratio_open_to_closed"] = summary["open"] / summary["closed"] if summary["closed"] else float("nan")
    print(
        json.dumps(
            {"proxies": len(pids), "rate_per_s": args.rate, "windows": results, "cpu_ms_per_request": summary}, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
