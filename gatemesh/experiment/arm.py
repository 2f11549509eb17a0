"""One arm of an experiment: set the policies, run Locust, put the fault in during the
middle third and take it out, and record everything the analysis needs.

The main thread drives the timeline (process faults must come from the thread that
started the runner); a sampler thread scrapes the calling proxies once a second for the
calls-per-second chart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatemesh.policy import DEFAULT_SERVICE, all_off
from gatemesh.topology import SERVICES
from gatemesh.tracing.examples import find_examples

from . import analysis
from .designs import Arm, Design
from .lab import Lab, dump
from .load import LoadSpec, LocustRun, LogFollower, wait_for_first_request
from .prom import total_over

CALLERS = ("storefront",)  # services whose sidecars call other services (besides the gateway)
SAMPLE_EVERY_S = 1.0
FIRST_REQUEST_TIMEOUT_S = 60.0


class ExperimentError(RuntimeError):
    """An arm could not run; the message says why (and what Locust printed last)."""


@dataclass
class Status:
    """What the progress line shows."""

    t: float = 0.0
    duration_s: float = 0.0
    phase: str = "starting"
    answered: float | None = None
    rate: float = 0.0


Progress = Callable[[Status], None]


def prepare(lab: Lab, design: Design, arm: Arm, counts: dict[str, int]) -> None:
    """Every fault off, the instance counts as at the start, this arm's policies in force."""
    lab.faults.reset()
    lab.refresh()
    for service, n in counts.items():
        if lab.counts().get(service) != n:
            lab.scale(service, n)
    off = all_off()
    for location, policy in (("edge", arm.edge), ("mesh", arm.mesh)):
        table = {DEFAULT_SERVICE: off, **{s: off for s in SERVICES}, design.service: policy}
        lab.set_policies(location, table)
    lab.wait_mesh_policies({design.service: arm.mesh}, CALLERS)
    # A breaker left open by an earlier run would make this arm start tripped.
    if arm.edge.breaker.enabled or arm.mesh.breaker.enabled:
        for name, upstreams in lab.upstream_states(lab.proxies(CALLERS)).items():
            state = upstreams.get(design.service, {})
            if state.get("breaker", "closed") != "closed" or any(
                s != "closed" for s in state.get("instance_breakers", {}).values()
            ):
                lab.faults.restart(name)
        lab.refresh()


class Sampler(threading.Thread):
    """Scrapes the calling proxies every ``SAMPLE_EVERY_S``: calls sent to the service."""

    def __init__(self, lab: Lab, proxies: dict[str, str], service: str, faulty: tuple[str, ...]) -> None:
        super().__init__(name="experiment-sampler", daemon=True)
        self.lab, self.proxies, self.service, self.faulty = lab, proxies, service, set(faulty)
        self.samples: list[dict[str, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            at = time.time()
            scrape = self.lab.scrape(self.proxies)
            self.samples.append(
                {
                    "at": at,
                    "attempts": total_over(scrape, analysis.ATTEMPTS, upstream=self.service),
                    "attempts_to_faulty": total_over(
                        scrape,
                        analysis.ATTEMPTS,
                        lambda labels: labels.get("instance") in self.faulty,
                        upstream=self.service,
                    ),
                    "requests": total_over(scrape, analysis.REQUESTS, upstream=self.service),
                }
            )
            self._halt.wait(max(0.0, SAMPLE_EVERY_S - (time.time() - at)))

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)


def run_arm(
    lab: Lab, design: Design, arm: Arm, load: LoadSpec, out_dir: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Run one arm into ``out_dir``; returns its result (see ``analysis``), also written
    there as ``result.json`` beside the raw CSVs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    show = progress or (lambda _s: None)
    callers = lab.proxies(CALLERS)
    seqs = lab.event_seqs(callers)
    calls_start = lab.calls(design.service)
    run = LocustRun(load, lab.gateway, lab.api_key, out_dir)
    status = Status(duration_s=load.duration_s)
    sampler = Sampler(lab, callers, design.service, design.faulty)
    undo: list = []
    try:
        run.start()
        follower = LogFollower(run.request_log)
        t0, recent = wait_for_first_request(follower, run, FIRST_REQUEST_TIMEOUT_S)
        sampler.start()
        fault_at, clear_at, end = t0 + load.duration_s / 3, t0 + 2 * load.duration_s / 3, t0 + load.duration_s
        fault_on = fault_off = None
        scrape_on = scrape_off = {}
        calls_on = calls_off = {}
        while run.running() and time.time() < end:
            now = time.time()
            if fault_on is None and now >= fault_at:
                calls_on, scrape_on = lab.calls(design.service), lab.scrape(callers)
                status.phase = "putting the fault in"
                show(status)
                fault_on = time.time()
                undo = design.inject(lab, arm)
                if not design.onset_during_injection:
                    fault_on = time.time()  # adding toxics takes a moment: pages sent meanwhile were fine
            elif fault_on is not None and fault_off is None and now >= clear_at:
                status.phase = "taking the fault out"
                show(status)
                recovery = [u for u in undo if getattr(u, "recovery", False)]
                _remove_all([u for u in undo if not getattr(u, "recovery", False)])
                undo = recovery
                fault_off = time.time()
                scrape_off, calls_off = lab.scrape(callers), lab.calls(design.service)
                _remove_all(undo)
                lab.refresh()
            recent = [r for r in recent + follower.new_rows() if float(r["end"]) >= time.time() - 2.0]
            status.t = time.time() - t0
            status.phase = (
                "before the fault" if fault_on is None else "FAULT" if fault_off is None else "after the fault"
            )
            answered = [r["outcome"] != "fail" for r in recent]
            status.answered = sum(answered) / len(answered) if answered else None
            status.rate = len(recent) / 2.0
            show(status)
            time.sleep(0.1)
        rc = run.stop()
    finally:
        try:
            _remove_all(undo)
        finally:
            sampler.stop()
            run.close()
    if fault_on is None or fault_off is None:
        raise ExperimentError(
            f"Locust stopped before the fault window ended (exit code {rc}); "
            f"its log ({run.log_path}) ends:\n{run.log_tail()}"
        )
    lab.refresh()
    events = lab.events_since(lab.proxies(CALLERS), seqs)
    calls_end = lab.calls(design.service)
    timeline = analysis.Timeline(t0, fault_on, fault_off, t0 + load.duration_s)
    rows = analysis.read_rows(run.request_log, timeline)
    phases = analysis.phase_figures(rows, timeline)
    result = {
        "arm": arm.name,
        "label": arm.label,
        "location": arm.location,
        "pattern_on": arm.pattern_on,
        "policy": {"edge": arm.edge.to_dict(), "mesh": arm.mesh.to_dict()},
        "timeline": timeline.to_dict(),
        "phases": phases,
        "routes": analysis.route_figures(rows, timeline),
        "proxy": analysis.proxy_figures(
            scrape_on, scrape_off, design.service, design.faulty, phases["during"]["requests"]
        ),
        "calls_at_faulty": analysis.calls_received(calls_on, calls_off, design.faulty),
        "calls_at_service": {"start": calls_start, "fault_on": calls_on, "fault_off": calls_off, "end": calls_end},
        "time_to_trip_s": analysis.time_to_trip(events, design.trip, design.service, timeline) if design.trip else None,
        "time_to_recover_s": analysis.time_to_recover(rows, timeline, phases["before"]),
        "events": analysis.key_events(events, design.service, timeline),
        "locust_exit_code": rc,
        # trace ids to open in Jaeger or with `gatemesh trace ID`: a retried call, a timed-out attempt, a refusal
        "traces": find_examples(lab.jaeger, fault_on, fault_off) if lab.jaeger else {},
    }
    dump(out_dir / "result.json", result)
    dump(out_dir / "events.json", events)
    dump(
        out_dir / "series.json",
        {"answers": analysis.series(rows, timeline), "calls": analysis.sampled_rates(sampler.samples, timeline)},
    )
    return result


def _remove_all(undo: list) -> None:
    """Take every part of a fault back, in order, even if one part fails (then raise)."""
    error: BaseException | None = None
    for item in undo:
        try:
            item.remove()
        except Exception as e:  # keep going: a half-removed fault would spoil the next arm
            error = error or e
    undo.clear()
    if error is not None:
        raise error
