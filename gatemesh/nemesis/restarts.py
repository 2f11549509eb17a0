"""Control-plane restart cycles under read/write traffic through the gateway.

Losing the control plane must not lose traffic (proxies keep their last snapshot), and a
restarted one must not hand out an empty registry (issue 12: 31 failed requests over five
restarts before the registrations were kept). Restarts alternate a crash (``kill -9``,
then start) with a clean restart (SIGTERM, then start); ``settle_s`` between two is one
TTL, so each cycle starts from a whole registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gatemesh.faults import Faults

from .traffic import Traffic, TrafficReport

CONTROLPLANE = "controlplane"


@dataclass
class RestartReport:
    cycles: int
    took_s: list[float] = field(default_factory=list)
    traffic: TrafficReport = field(default_factory=TrafficReport)

    def to_dict(self) -> dict[str, Any]:
        return {"cycles": self.cycles, "took_s": [round(t, 2) for t in self.took_s], **self.traffic.to_dict()}

    def line(self) -> str:
        took = ", ".join(f"{t:.1f}s" for t in self.took_s)
        return f"{self.cycles} control-plane restarts (each took {took}) under load: {self.traffic.line()}"


def restart_cycles(
    faults: Faults,
    gateway: str,
    api_key: str,
    cycles: int = 5,
    rate_per_s: float = 80.0,
    warm_s: float = 2.0,
    settle_s: float = 3.0,
    say: Callable[[str], None] | None = None,
) -> RestartReport:
    """Restart the control plane ``cycles`` times with ``rate_per_s`` of traffic running."""
    report = RestartReport(cycles)
    with Traffic(gateway, api_key, rate_per_s=rate_per_s, max_s=warm_s + cycles * (settle_s + 30) + 10) as traffic:
        time.sleep(warm_s)
        for n in range(cycles):
            t0 = time.monotonic()
            if n % 2:
                faults.kill(CONTROLPLANE).remove()  # crash, then start
            else:
                faults.restart(CONTROLPLANE)  # SIGTERM, then start
            report.took_s.append(time.monotonic() - t0)
            if say is not None:
                say(
                    f"control plane restart {n + 1}/{cycles} ({'kill -9' if n % 2 else 'SIGTERM'}) took "
                    f"{report.took_s[-1]:.1f}s"
                )
            time.sleep(settle_s)
    report.traffic = traffic.report
    return report
