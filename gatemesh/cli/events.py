"""The event timeline of every proxy in the running topology, merged by time: breaker
transitions, ejections, retry-budget refusals, endpoint and policy changes — why
traffic moved. `--follow` keeps printing new events (Ctrl-C to stop)."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime

from gatemesh.runner.webclient import json_request

from ._common import add_name_argument, control_of

HELP = "show why traffic moved: breaker, ejection, retry and discovery events (--follow)"
ORDER = 60
POLL_S = 0.5


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--kind", action="append", help="only these kinds (repeatable), e.g. breaker-open")
    p.add_argument("--max-s", type=float, default=3600.0, help="--follow stops after this many seconds (default 3600)")
    add_name_argument(p)


def _proxies(status: dict) -> dict[str, str]:
    """proxy admin base URL by a display name."""
    out = {}
    if status.get("gateway"):
        out["gateway"] = status.get("gateway_admin") or status["gateway"]  # its admin listener
    for inst in status.get("instances", []):
        if inst.get("kind") == "sidecar" and inst.get("health"):
            out[inst["name"]] = inst["health"].rsplit("/health", 1)[0]
    return out


def _line(ev: dict) -> str:
    at = datetime.fromtimestamp(ev["at"]).strftime("%H:%M:%S.%f")[:-3]
    where = ev["upstream"] + (f"/{ev['instance']}" if ev.get("instance") else "")
    return f"{at}  {ev['proxy']:24} {ev['kind']:24} {where:24} {ev['cause']}"


def run(args: argparse.Namespace) -> int:
    proxies = _proxies(control_of(args.name).status())
    seen = {name: 0 for name in proxies}
    end = time.monotonic() + args.max_s
    first = True
    while True:
        batch = []
        for name, url in proxies.items():
            try:
                data = json_request("GET", f"{url}/-/events?since={seen[name]}", timeout_s=2.0)
            except OSError:
                continue  # a proxy a chaos test killed: its events come back with it
            seen[name] = data.get("last_seq", seen[name])
            batch.extend(data.get("events", []))
        for ev in sorted(batch, key=lambda e: e["at"]):
            if args.kind and ev["kind"] not in args.kind:
                continue
            print(json.dumps(ev) if args.json else _line(ev), flush=True)
        if first and not batch and not args.follow:
            print("gatemesh: no events yet (they appear when breakers trip, instances are ejected or endpoints change)")
        first = False
        if not args.follow or time.monotonic() > end:
            return 0
        time.sleep(POLL_S)
