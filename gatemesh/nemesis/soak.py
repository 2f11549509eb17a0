"""A soak: steady traffic through the gateway for a bounded time, sampling the resident
memory and open files of every process, reported per process kind (Toxiproxy included)
from start to end.

Every ``latency_every_s`` one catalog instance gets ``latency_ms`` of Toxiproxy latency for
``latency_window_s``: slow answers are where connections pile up (issue 12: Toxiproxy's
fds 19 → 313 and the gateway's 15 → 134 in 10 minutes, rising in each latency window and
never coming down), so a soak that never has one would miss exactly that.

Read from ``/proc`` (Linux): ``VmRSS`` of ``/proc/<pid>/status`` and the entries of
``/proc/<pid>/fd``. A kind's figure is the mean RSS and the mean fd count over its
processes; "grows" means its end is more than ``GROWTH_FLAG`` above its start *and*
still rising over the last third of the run (a one-off step that levels off is not a leak).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gatemesh.faults import Faults
from gatemesh.runner import ProcessRunner

from .run import entry
from .traffic import Traffic

GROWTH_FLAG = 0.25  # +25 % start → end, still rising at the end: reported as growing
KINDS = ("toxiproxy", "controlplane", "gateway", "sidecar", "service", "dashboard")


def proc_sample(pid: int) -> tuple[float, int] | None:
    """(RSS in MiB, open fds) of one process; None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss_kib = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        return rss_kib / 1024.0, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError, StopIteration):
        return None


@dataclass
class KindSeries:
    kind: str
    processes: int = 0
    rss_mib: list[float] = field(default_factory=list)  # mean over the kind's processes, per sample
    fds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def one(values: list[float]) -> dict[str, Any]:
            start, end = values[0], values[-1]
            third = values[-max(2, len(values) // 3) :]
            rising = third[-1] > third[0] * 1.02
            growth = (end - start) / start if start else 0.0
            return {
                "start": round(start, 1),
                "end": round(end, 1),
                "peak": round(max(values), 1),
                "growth": round(growth, 3),
                "grows": growth > GROWTH_FLAG and rising,
            }

        return {"processes": self.processes, "rss_mib": one(self.rss_mib), "fds": one(self.fds)}


def sample_kinds(runner: ProcessRunner) -> dict[str, tuple[int, float, float]]:
    """kind -> (processes, mean RSS MiB, mean fds) right now."""
    by_kind: dict[str, list[tuple[float, int]]] = {}
    for child in list(runner.children.values()):
        s = proc_sample(child.pid) if child.alive() else None
        if s is not None:
            by_kind.setdefault(child.component.kind, []).append(s)
    return {k: (len(v), sum(r for r, _ in v) / len(v), sum(f for _, f in v) / len(v)) for k, v in by_kind.items()}


def soak(
    runner: ProcessRunner,
    duration_s: float,
    interval_s: float = 10.0,
    rate_per_s: float = 40.0,
    latency_every_s: float = 60.0,
    latency_window_s: float = 10.0,
    latency_ms: int = 300,
    warm_s: float | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the soak; call from the thread that started ``runner``. Sampling starts after
    ``warm_s`` of traffic (default a tenth of the run, at most 30 s): connection pools
    filling up in the first seconds are not growth."""
    if not 0 < duration_s <= 24 * 3600 or not 0 < interval_s <= duration_s:
        raise ValueError(
            f"duration_s must be in (0, 86400] and interval_s in (0, duration_s], got {duration_s} and {interval_s}"
        )
    say = say or (lambda _m: None)
    topo = runner.topology
    gateway, key = entry(runner)
    faults = Faults.for_runner(runner)
    target = next(c.instance for c in topo.instances() if c.service == "catalog" and c.instance)
    series = {k: KindSeries(k) for k in KINDS}
    windows = 0
    t0 = time.monotonic()
    with Traffic(
        gateway, key, rate_per_s=rate_per_s, max_s=duration_s + 5, max_requests=int(rate_per_s * duration_s * 1.2) + 100
    ) as traffic:
        warm_s = min(30.0, duration_s / 10) if warm_s is None else warm_s
        next_sample, next_window = t0 + warm_s, t0
        window = None
        while (now := time.monotonic()) - t0 < duration_s:
            if window is None and latency_every_s > 0 and now >= next_window:
                window = faults.latency(target, ms=latency_ms)
                window_ends = now + latency_window_s
                next_window = now + latency_every_s
                windows += 1
            if window is not None and now >= window_ends:
                window.remove()
                window = None
            if now >= next_sample:
                for kind, (n, rss, fds) in sample_kinds(runner).items():
                    if kind in series:
                        s = series[kind]
                        s.processes = n
                        s.rss_mib.append(rss)
                        s.fds.append(fds)
                next_sample = now + interval_s
                say(
                    f"soak {now - t0:5.0f}s: "
                    + ", ".join(
                        f"{k} {s.rss_mib[-1]:.0f} MiB {s.fds[-1]:.0f} fds" for k, s in series.items() if s.rss_mib
                    )
                )
            time.sleep(0.2)
        if window is not None:
            window.remove()
    kinds = {k: s.summary() for k, s in series.items() if s.rss_mib}
    return {
        "duration_s": round(time.monotonic() - t0, 1),
        "interval_s": interval_s,
        "rate_per_s": rate_per_s,
        "latency_windows": windows,
        "latency_target": target,
        "traffic": traffic.report.to_dict(),
        "kinds": kinds,
        "grows": sorted(f"{k} {m}" for k, v in kinds.items() for m in ("rss_mib", "fds") if v[m]["grows"]),
    }


def table(report: dict[str, Any]) -> str:
    """The report as a small text table: kind, RSS start → end, fds start → end."""
    lines = [f"{'kind':<13} {'procs':>5}  {'RSS MiB start → end (peak)':<28} {'fds start → end (peak)':<24}"]
    for kind, v in report["kinds"].items():
        r, f = v["rss_mib"], v["fds"]
        lines.append(
            f"{kind:<13} {v['processes']:>5}  "
            f"{r['start']:>6.1f} → {r['end']:<6.1f} ({r['peak']:.1f}) {'GROWS' if r['grows'] else '':<6}"
            f"{f['start']:>6.1f} → {f['end']:<6.1f} ({f['peak']:.1f}) {'GROWS' if f['grows'] else ''}"
        )
    return "\n".join(lines)
