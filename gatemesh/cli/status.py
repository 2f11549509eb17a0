"""Show the running topology: its endpoints (gateway URL or none, control plane,
Toxiproxy API, demo API key), every process with its pid, ports, address and Toxiproxy
proxy, and what is broken now (faults, policy changes, open breakers, ejections, paused
or dead processes). Exit status 1 when nothing runs."""

from __future__ import annotations

import argparse
import json
import time

from . import _show
from ._broken import broken_now
from ._common import add_name_argument, live_status, load, name_hint, supervisor_alive

HELP = "show the running topology (--json for scripts)"
ORDER = 20


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    _, state = load(args.name)
    status = live_status(state) if state is not None else None
    if status is None:
        if state is not None and not supervisor_alive(state):
            why = f"its supervisor (pid {state.get('pid')}) is gone; clean up with: {_show.command_name()} down{name_hint(args.name)}"
        elif state is not None:
            why = "its supervisor does not answer"
        else:
            why = f"start one with: {_show.command_name()} up{name_hint(args.name)}"
        if args.json:
            print(json.dumps({"name": args.name, "running": False, "reason": why}))
        else:
            print(f"gatemesh: no topology named {args.name!r} is running; {why}")
        return 1
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    up_s = time.time() - float(status.get("started_at") or time.time())
    alive = sum(1 for i in status.get("instances", []) if i.get("alive"))
    print(
        f"{status['topology']} {args.name!r}: {status['status']}, up {up_s:.0f}s, "
        f"{alive}/{len(status.get('instances', []))} processes alive, supervisor pid {status['supervisor_pid']}"
    )
    print("\n".join(_show.endpoints(status)))
    print()
    print("\n".join(_show.instance_table(status)))
    broken = broken_now(status, args.name)
    print("\nbroken now:" if broken else "\nbroken now: nothing (no faults, default policies, breakers closed)")
    if broken:
        print("\n".join(broken) + f"\n  ({_show.command_name()} reset{name_hint(args.name)} mends all of it)")
    return 0
