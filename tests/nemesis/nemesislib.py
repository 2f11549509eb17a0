"""Helpers the nemesis tests share (imported by name, like tests/chaos/chaoslib.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gatemesh.topology import Topology


def with_args(topology: Topology, name: str, edit: Callable[[tuple[str, ...]], tuple[str, ...]]) -> Topology:
    """The topology with one component's arguments changed by ``edit``."""
    return replace(
        topology, components=tuple(replace(c, args=edit(c.args)) if c.name == name else c for c in topology.components)
    )


def without_persistence(args: tuple[str, ...]) -> tuple[str, ...]:
    """The control plane's arguments without --state-file and --warmup-s (yesterday's)."""
    out, skip = [], 0
    for a in args:
        if skip:
            skip -= 1
        elif a in ("--state-file", "--warmup-s"):
            skip = 1
        else:
            out.append(a)
    return tuple(out)
