"""The nemesis's seeded schedule: one fault at a time on the orders path, every kind.

``plan(seed, steps)`` is a pure function of its arguments: the same seed gives the same
faults on the same targets for the same times, so a failing run can be replayed. The
first ``len(KINDS)`` steps are every kind once, in a seeded order; later steps draw a
kind at random. ``apply(faults, step)`` puts a step in force with the one fault API and
returns the ``Fault`` whose ``remove()`` heals it (a killed process is restarted, a paused
one resumed, a toxic or a disabled proxy removed).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from gatemesh.faults import Fault, Faults

CONTROLPLANE = "controlplane"
#: kind -> what it does, one line each (the report prints these)
KINDS: dict[str, str] = {
    "kill-app": "kill -9 an orders app (restarted when healed)",
    "kill-sidecar": "kill -9 an orders app's sidecar (restarted when healed)",
    "kill-controlplane": "kill -9 the control plane (restarted when healed)",
    "pause-app": "SIGSTOP an orders app (a hung host)",
    "pause-sidecar": "SIGSTOP an orders app's sidecar",
    "pause-controlplane": "SIGSTOP the control plane",
    "reset-peer": "reset_peer toxic: every connection to the instance is reset",
    "limit-data": "limit_data toxic: answers cut after a few bytes",
    "latency": "latency toxic: 300-1500 ms more per answer",
    "timeout": "timeout toxic: a black hole, connections held open with no data",
    "down": "the instance's Toxiproxy proxy disabled: connections refused",
}


@dataclass(frozen=True, slots=True)
class Step:
    n: int
    kind: str
    target: str  # an orders instance, its sidecar, or the control plane
    hold_s: float  # how long the fault stays in force
    gap_s: float  # quiet time after it is healed
    param: int = 0  # latency: ms; limit_data: bytes

    def describe(self) -> str:
        extra = (
            f" {self.param} ms" if self.kind == "latency" else f" {self.param} B" if self.kind == "limit-data" else ""
        )
        return f"#{self.n} {self.kind}{extra} on {self.target} for {self.hold_s:.1f}s"


def plan(
    seed: int,
    steps: int,
    instances: Sequence[str] = ("orders-1", "orders-2"),
    hold_s: tuple[float, float] = (1.0, 3.0),
    gap_s: tuple[float, float] = (2.0, 5.0),
) -> list[Step]:
    """``steps`` faults from ``seed``; every kind appears once before any repeats."""
    if steps < 1 or not instances:
        raise ValueError(f"a nemesis plan needs at least one step and one instance, got {steps} and {list(instances)}")
    rng = random.Random(seed)
    kinds = list(KINDS)
    rng.shuffle(kinds)
    out = []
    for n in range(steps):
        kind = kinds[n] if n < len(kinds) else rng.choice(list(KINDS))
        instance = rng.choice(list(instances))
        if kind.endswith("controlplane"):
            target = CONTROLPLANE
        elif kind.endswith("sidecar"):
            target = f"sidecar-{instance}"
        else:
            target = instance
        param = rng.randint(300, 1500) if kind == "latency" else rng.randint(1, 64) if kind == "limit-data" else 0
        out.append(Step(n + 1, kind, target, round(rng.uniform(*hold_s), 2), round(rng.uniform(*gap_s), 2), param))
    return out


def apply(faults: Faults, step: Step) -> Fault:
    """Put ``step`` in force now; the returned fault's ``remove()`` heals it."""
    kind, target = step.kind, step.target
    if kind.startswith("kill-"):
        return faults.kill(target)
    if kind.startswith("pause-"):
        return faults.pause(target)
    if kind == "reset-peer":
        return faults.reset_peer(target)
    if kind == "limit-data":
        return faults.limit_data(target, bytes=step.param)
    if kind == "latency":
        return faults.latency(target, ms=step.param)
    if kind == "timeout":
        return faults.timeout(target)
    if kind == "down":
        return faults.down(target)
    raise ValueError(f"unknown nemesis fault kind {kind!r}; known: {', '.join(KINDS)}")
