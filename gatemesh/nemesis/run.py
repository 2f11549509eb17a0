"""One nemesis run on a running edge-mesh topology: the seeded faults while the client
writes orders, the control-plane restart cycle, then the exactly-once check.

    runner = start_topology(port_base)           # or any running ProcessRunner
    report = run_nemesis(runner, NemesisOptions(seed=7), say=print)
    report["check"]["ok"]                        # 0 duplicated, 0 lost, 0 invented

``NemesisOptions()`` is the short run CI does (every fault kind once, 400 orders, five
restarts: about a minute); ``NemesisOptions.long()`` the issue's (a fault every 3-8 s,
60 of them, 2000 orders).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from gatemesh.faults import Faults
from gatemesh.runner import ProcessRunner
from gatemesh.topology import PortPlan, build_topology
from gatemesh.topology.build import ORDERS_DB

from . import check, schedule
from .client import GIVE_UP_S, OrderWriter
from .restarts import restart_cycles

Say = Callable[[str], None]
COUNTS = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 2}


@dataclass(frozen=True)
class NemesisOptions:
    seed: int = 1
    steps: int = len(schedule.KINDS)  # faults; the first len(KINDS) are every kind once
    orders: int = 400  # spread over the faults
    writers: int = 4  # client threads, each one order at a time
    hold_s: tuple[float, float] = (1.0, 2.0)
    gap_s: tuple[float, float] = (1.5, 3.0)
    restarts: int = 5  # control-plane restart cycles under load afterwards
    restart_rate_per_s: float = 80.0  # the load for them

    def __post_init__(self) -> None:
        if self.steps < 1 or self.orders < 1 or self.restarts < 0:
            raise ValueError(
                f"steps and orders must be >= 1 and restarts >= 0, got {self.steps}, {self.orders}, {self.restarts}"
            )
        for name in ("hold_s", "gap_s"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi <= 60:
                raise ValueError(f"{name} must be (low, high) seconds with 0 < low <= high <= 60, got {(lo, hi)}")

    @classmethod
    def long(cls, seed: int = 1) -> NemesisOptions:
        """The issue's run: a fault every 3-8 s, 60 faults, 2000 orders."""
        return cls(seed=seed, steps=60, orders=2000, hold_s=(1.0, 4.0), gap_s=(3.0, 8.0))


def start_topology(port_base: int, run_dir: Path, say: Say | None = None, dashboard: bool = False) -> ProcessRunner:
    """An edge-mesh topology with two orders instances (the caller stops it); the dashboard
    only when asked (the soak watches it too; the nemesis does not need it)."""
    topology = build_topology("edge-mesh", PortPlan.from_base(port_base), COUNTS, dashboard=dashboard)
    runner = ProcessRunner(topology, run_dir)
    runner.start(progress=say, timeout_s=120)
    return runner


def entry(runner: ProcessRunner) -> tuple[str, str]:
    """The gateway's URL and the API key; ValueError for a topology without a gateway."""
    topo = runner.topology
    if not topo.endpoints.gateway or not topo.api_key:
        raise ValueError(f"the nemesis needs a topology with a gateway and an API key; {topo.name} has none")
    return topo.endpoints.gateway, topo.api_key


def run_nemesis(runner: ProcessRunner, options: NemesisOptions, say: Say | None = None) -> dict[str, Any]:
    """The whole run; returns the report (``report["ok"]``: exactly-once held and the
    restart cycle failed no request). Call from the thread that started ``runner``."""
    say = say or (lambda _m: None)
    t0 = time.monotonic()
    topo = runner.topology
    gateway, key = entry(runner)
    instances = [c.instance for c in topo.instances() if c.service == "orders" and c.instance]
    steps = schedule.plan(options.seed, options.steps, instances, options.hold_s, options.gap_s)
    planned_s = sum(s.hold_s + s.gap_s for s in steps)
    faults = Faults.for_runner(runner)
    writer = OrderWriter(
        gateway,
        key,
        uuid.uuid4().hex[:8],
        options.orders,
        options.seed,
        options.writers,
        rate_per_s=options.orders / planned_s,
    )
    say(
        f"nemesis seed {options.seed}: {len(steps)} faults over ~{planned_s:.0f}s, "
        f"{options.orders} orders at {options.orders / planned_s:.1f}/s from {options.writers} writers"
    )
    writer.start()
    done_steps = []
    try:
        for step in steps:
            fault = schedule.apply(faults, step)
            time.sleep(step.hold_s)
            fault.remove()
            say(f"{step.describe()}: healed ({writer.done}/{options.orders} orders taken)")
            done_steps.append(asdict(step))
            time.sleep(step.gap_s)
    finally:
        faults.reset(restart_dead=True)  # whatever happened, nothing stays broken
    if not writer.wait(GIVE_UP_S + 30):
        writer.stop()
    client = writer.summary()
    say(
        f"client: {client['acknowledged']} of {client['orders']} orders acknowledged, "
        f"{client['failed_attempts']} failed attempts ({client['orders_retried']} orders needed a retry)"
    )
    cycles = (
        restart_cycles(faults, gateway, key, options.restarts, options.restart_rate_per_s, say=say)
        if options.restarts
        else None
    )
    if cycles is not None:
        say(cycles.line())
    verdict = check.check(writer.records, runner.run_dir / ORDERS_DB, gateway, key, writer.prefix)
    say(
        f"check: {verdict.duplicated} duplicated, {verdict.lost} lost, {verdict.invented} invented, "
        f"{verdict.disagree} disagreeing between SQLite ({verdict.in_database}) and the API ({verdict.in_api})"
    )
    restart_failed = (cycles.traffic.count("failed") + cycles.traffic.count("degraded")) if cycles else 0
    return {
        "seed": options.seed,
        "options": asdict(replace(options)),
        "wall_s": round(time.monotonic() - t0, 1),
        "kinds": sorted({s["kind"] for s in done_steps}),
        "steps": done_steps,
        "client": client,
        "check": verdict.to_dict(),
        "restarts": cycles.to_dict() if cycles else None,
        "ok": verdict.ok and client["unacknowledged"] == 0 and restart_failed == 0,
    }
