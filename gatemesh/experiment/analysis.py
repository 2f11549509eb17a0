"""From what one arm recorded to the figures a report shows.

Inputs: the request log (one row per request, see ``loadtests/common.py``), the times the
fault was put in and taken out, the proxies' counters scraped at those times, the
instances' request counts, the proxies' events. Outputs (JSON-ready):

- ``Figures`` per phase (``before``, ``during`` = the fault window, ``after``, ``all``)
  and per page route: requests, success rate (complete + degraded), complete rate,
  p50/p95/p99, share slower than ``SLOW_S``, share answered within ``SLOW_S``, fail-fast
  answers (a proxy refused at once: ``circuit-open``, ``no-healthy-upstream``,
  ``retry-budget-exhausted``, ``overloaded``), median time to fail, top failure reasons;
- the proxies' view of the fault window: calls (attempts) sent to the service and to the
  faulty instances, requests, retries, budget refusals, retry amplification
  (attempts / requests), calls per page;
- calls the faulty instances' apps received during the window;
- time to trip (first reaction event after the fault began) and time to recover (first
  second after the fault ended from which pages are as good as before it);
- per-second series for the charts.

A request belongs to the phase in which it *started*: a page sent just before the fault
and answered during it counts as before. Latency is from start (or, in the open loop,
from when the request was due) to answer.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .designs import SLOW_S
from .prom import Samples, total_over

FAIL_FAST = ("circuit-open", "no-healthy-upstream", "retry-budget-exhausted", "overloaded")
PHASES = ("before", "during", "after", "all")
RECOVER_RUN_S = 2  # seconds in a row as good as before the fault = recovered
RECOVER_SUCCESS_SLACK = 0.05
ATTEMPTS = "gatemesh_upstream_attempts_total"
REQUESTS = "gatemesh_requests_total"
RETRIES = "gatemesh_retries_total"
BUDGET = "gatemesh_retry_budget_exhausted_total"


@dataclass(frozen=True)
class Row:
    start: float
    end: float
    route: str
    status: int
    outcome: str  # ok | degraded | fail
    reason: str
    latency_ms: float

    @property
    def answered(self) -> bool:
        return self.outcome != "fail"


@dataclass(frozen=True)
class Timeline:
    t0: float  # wall time the load began (first request)
    fault_on: float  # the fault was in force from here ...
    fault_off: float  # ... to here
    end: float  # the load ended

    def phase(self, start: float) -> str:
        if start < self.fault_on:
            return "before"
        if start < self.fault_off:
            return "during"
        return "after"

    def to_dict(self) -> dict[str, float]:
        return {
            "t0": self.t0,
            "fault_on_s": self.fault_on - self.t0,
            "fault_off_s": self.fault_off - self.t0,
            "duration_s": self.end - self.t0,
        }


def read_rows(path: Path, timeline: Timeline) -> list[Row]:
    rows: list[Row] = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            try:
                row = Row(
                    float(r["start"]),
                    float(r["end"]),
                    r["name"],
                    int(r["status"] or 0),
                    r["outcome"],
                    r["reason"],
                    float(r["latency_ms"]),
                )
            except (KeyError, ValueError):
                continue
            if timeline.t0 <= row.start < timeline.end:
                rows.append(row)
    return rows


def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _share(n: int, d: int) -> float | None:
    return n / d if d else None


def figures(rows: Sequence[Row]) -> dict[str, Any]:
    n = len(rows)
    latencies = [r.latency_ms for r in rows]
    ok = sum(1 for r in rows if r.outcome == "ok")
    degraded = sum(1 for r in rows if r.outcome == "degraded")
    failed = [r for r in rows if r.outcome == "fail"]
    fast = [r for r in failed if any(reason in r.reason for reason in FAIL_FAST)]
    slow = sum(1 for r in rows if r.latency_ms > SLOW_S * 1000 or r.reason == "client-timeout")
    within = sum(1 for r in rows if r.answered and r.latency_ms <= SLOW_S * 1000)
    reasons = Counter(r.reason for r in failed)
    return {
        "requests": n,
        "ok": ok,
        "degraded": degraded,
        "failed": len(failed),
        "success_rate": _share(ok + degraded, n),
        "complete_rate": _share(ok, n),
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "slow_share": _share(slow, n),
        "answered_1s": _share(within, n),
        "fail_fast": len(fast),
        "fail_fast_share": _share(len(fast), len(failed)),
        "failed_p50_ms": _pct([r.latency_ms for r in failed], 50),
        "reasons": dict(reasons.most_common(5)),
    }


def phase_figures(rows: Sequence[Row], timeline: Timeline) -> dict[str, dict]:
    by_phase: dict[str, list[Row]] = {p: [] for p in PHASES}
    for r in rows:
        by_phase[timeline.phase(r.start)].append(r)
        by_phase["all"].append(r)
    return {p: figures(rs) for p, rs in by_phase.items()}


def route_figures(rows: Sequence[Row], timeline: Timeline) -> dict[str, dict]:
    """The fault window's figures per page route (edge-composed and mesh-composed pages)."""
    routes: dict[str, list[Row]] = {}
    for r in rows:
        if timeline.phase(r.start) == "during":
            routes.setdefault(r.route, []).append(r)
    return {route: figures(rs) for route, rs in sorted(routes.items())}


def proxy_figures(
    at_on: Mapping[str, Samples], at_off: Mapping[str, Samples], service: str, faulty: Iterable[str], pages: int
) -> dict[str, Any]:
    """What the proxies sent to ``service`` between two scrapes (the fault window)."""
    faulty = set(faulty)

    def delta(name: str, where=None) -> float:
        return total_over(at_off, name, where, upstream=service) - total_over(at_on, name, where, upstream=service)

    attempts = delta(ATTEMPTS)
    requests = delta(REQUESTS)
    by_location = {}
    for location, names in (
        ("edge", [n for n in at_off if n == "gateway"]),
        ("mesh", [n for n in at_off if n != "gateway"]),
    ):
        a = sum(
            total_over({n: at_off[n]}, ATTEMPTS, upstream=service)
            - total_over({n: at_on.get(n, [])}, ATTEMPTS, upstream=service)
            for n in names
        )
        r = sum(
            total_over({n: at_off[n]}, REQUESTS, upstream=service)
            - total_over({n: at_on.get(n, [])}, REQUESTS, upstream=service)
            for n in names
        )
        by_location[location] = {"attempts": a, "requests": r, "amplification": a / r if r else None}
    return {
        "by_location": by_location,
        "attempts": attempts,
        "attempts_to_faulty": delta(ATTEMPTS, lambda labels: labels.get("instance") in faulty),
        "requests": requests,
        "retries": delta(RETRIES),
        "budget_refusals": delta(BUDGET),
        "amplification": attempts / requests if requests else None,
        "calls_per_page": attempts / pages if pages else None,
    }


def calls_received(at_on: Mapping[str, int], at_off: Mapping[str, int], faulty: Iterable[str]) -> int | None:
    """Requests the faulty instances' apps received in the window; None when they cannot be
    counted (an instance gone, or restarted: its counter began again)."""
    seen = [at_off[i] - at_on[i] for i in faulty if i in at_off and i in at_on]
    if not seen or any(n < 0 for n in seen) or len(seen) < len(set(faulty)):
        return None
    return sum(seen)


def time_to_trip(events: Sequence[dict], kinds: Sequence[str], service: str, timeline: Timeline) -> float | None:
    for e in events:
        if e.get("kind") in kinds and e.get("upstream") == service and e.get("at", 0) >= timeline.fault_on:
            return float(e["at"]) - timeline.fault_on
    return None


def time_to_recover(rows: Sequence[Row], timeline: Timeline, baseline: Mapping[str, Any]) -> float | None:
    """Seconds from the end of the fault until pages started in each of ``RECOVER_RUN_S``
    seconds in a row are about as successful and fast as before the fault."""
    ok_rate = baseline.get("success_rate")
    p95 = baseline.get("p95_ms")
    if ok_rate is None or p95 is None:
        return None
    buckets: dict[int, list[Row]] = {}
    for r in rows:
        if r.start >= timeline.fault_off:
            buckets.setdefault(int(r.start - timeline.fault_off), []).append(r)
    last = int(timeline.end - timeline.fault_off)
    good_run = 0
    for s in range(0, last + 1):
        rs = buckets.get(s, [])
        f = figures(rs)
        good = bool(rs) and f["success_rate"] >= ok_rate - RECOVER_SUCCESS_SLACK and f["p95_ms"] <= 2 * p95 + 50
        good_run = good_run + 1 if good else 0
        if good_run == RECOVER_RUN_S:
            return float(s - RECOVER_RUN_S + 1)
    return None


def series(rows: Sequence[Row], timeline: Timeline) -> dict[str, Any]:
    """Per second of the run: answers ok/degraded/failed and p95 latency by answer time;
    under ``sent``, figures of the requests *sent* in each second (for the metric's curve)."""
    n = max(1, int(np.ceil(timeline.end - timeline.t0)))
    ok, degraded, failed = [0] * n, [0] * n, [0] * n
    lat: list[list[float]] = [[] for _ in range(n)]
    for r in rows:
        i = int(r.end - timeline.t0)
        if not 0 <= i < n:
            continue
        (ok if r.outcome == "ok" else degraded if r.outcome == "degraded" else failed)[i] += 1
        lat[i].append(r.latency_ms)
    started: list[list[Row]] = [[] for _ in range(n)]
    for r in rows:
        i = int(r.start - timeline.t0)
        if 0 <= i < n:
            started[i].append(r)
    by_start = [figures(rs) for rs in started]
    return {
        "t": list(range(n)),
        "ok": ok,
        "degraded": degraded,
        "failed": failed,
        "p95_ms": [float(np.percentile(v, 95)) if v else None for v in lat],
        "sent": {key: [f[key] for f in by_start] for key in ("requests", "success_rate", "slow_share", "answered_1s")},
    }


def sampled_rates(samples: Sequence[dict], timeline: Timeline) -> dict[str, list]:
    """Per-second calls sent to the service (all, and to the faulty instances) from the
    sampler's cumulative counters."""
    out: dict[str, list] = {"t": [], "calls": [], "calls_to_faulty": [], "amplification": []}
    for a, b in zip(samples, samples[1:], strict=False):
        dt = b["at"] - a["at"]
        if dt <= 0 or b["at"] > timeline.end + 0.5:  # after the load stopped: nothing to show
            continue
        out["t"].append((a["at"] + b["at"]) / 2 - timeline.t0)
        out["calls"].append(max(0.0, (b["attempts"] - a["attempts"]) / dt))
        out["calls_to_faulty"].append(max(0.0, (b["attempts_to_faulty"] - a["attempts_to_faulty"]) / dt))
        requests = b["requests"] - a["requests"]
        out["amplification"].append((b["attempts"] - a["attempts"]) / requests if requests > 0 else None)
    return out


def key_events(events: Sequence[dict], service: str, timeline: Timeline, limit: int = 40) -> list[dict]:
    """The events about ``service`` worth marking on a chart (breaker transitions, ejections,
    budget refusals, endpoint changes), plus the proxies losing and finding the control
    plane, in seconds since the run began. Budget refusals (one per refused retry) are
    folded into one per proxy and second; past ``limit`` the middle ones are left out."""
    out: list[dict] = []
    seen_budget: set[tuple[str, int]] = set()
    for e in events:
        kind = e.get("kind", "")
        about_service = e.get("upstream") == service and not kind.startswith("policy-")
        if not (about_service or kind.startswith("control-plane-")):
            continue
        t = float(e.get("at", 0)) - timeline.t0
        if kind == "retry-budget-exhausted":
            key = (e.get("proxy", ""), int(t))
            if key in seen_budget:
                continue
            seen_budget.add(key)
        out.append(
            {
                "t": round(t, 3),
                "proxy": e.get("proxy"),
                "kind": kind,
                "instance": e.get("instance"),
                "cause": e.get("cause"),
            }
        )
    return out if len(out) <= limit else out[: limit - 1] + [out[-1]]
