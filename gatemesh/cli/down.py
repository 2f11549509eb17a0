"""Stop a running topology: the supervisor stops every component (SIGTERM, then SIGKILL
after 5 s); then any process it started that still runs is killed, even after a crash
or a killed `gatemesh up`. Does nothing, and says so, when nothing runs."""

from __future__ import annotations

import argparse

from ._common import add_name_argument, load, tear_down

HELP = "stop a running topology; no process is left behind"
ORDER = 30


def configure(p: argparse.ArgumentParser) -> None:
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    directory, state = load(args.name)
    if state is None:
        print(f"gatemesh: nothing to stop: no topology named {args.name!r} is running")
        return 0
    topology = state.get("topology") or "topology"
    done = tear_down(directory, state, lambda m: print(f"gatemesh: {m}", flush=True))
    parts = []
    if done["supervisor"]:
        parts.append(f"{len(done['components'])} components and their supervisor (pid {done['supervisor']})")
    else:
        parts.append("its supervisor was already gone")
    print(f"gatemesh: stopped {topology} {args.name!r}: {', '.join(parts)}")
    if done["leftovers"]:
        print(f"gatemesh: killed leftover processes: {', '.join(done['leftovers'])}")
    return 0
