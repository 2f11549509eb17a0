"""The experiments: one ``Design`` per pattern, each the same fault under the same load,
with the pattern off and on, placed at the edge or in the mesh.

The load is product pages (``loadtests/pages.py``): half composed **at the edge** (the
gateway calls catalog, pricing, inventory and reviews itself) and half composed **in the
mesh** (the storefront calls them through its sidecar). The fault hits a service both
composers call, so both halves feel it. A design's policy is set on that service only:

- *off*: ``base`` at the edge and in the mesh (everything else off, ``policy.all_off``);
- *on at the edge*: ``base`` + ``on`` for the gateway's calls to the service;
- *on in the mesh*: ``base`` + ``on`` for the sidecars' calls to it.

So the edge arm can only help the pages the gateway composes and the mesh arm the pages
the storefront composes: the per-page table in each report shows exactly that.

Every design names the figure its pattern exists to move (``Metric``); the report says
by how much the pattern-on arms moved it. The fault is in force during the middle third
of every arm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gatemesh.policy import Policy, all_off

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

SLOW_S = 1.0  # a page slower than this kept its reader waiting
TRIP_EVENTS = ("breaker-open", "ejected", "retry-budget-exhausted")


@dataclass(frozen=True)
class Metric:
    key: str  # a key of the figures of the fault window (see analysis.py)
    label: str  # what it is, for a table row: "pages slower than 1 s"
    unit: str  # "%", "ms", "x", " per page"
    lower_is_better: bool
    ideal: float  # the value with the fault's harm fully undone (for "share of the harm undone")
    min_change: float = 0.10  # the smallest relative change called measurable

    def format(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.unit == "%":
            return f"{value * 100:.1f}%"
        if self.unit == "ms":
            return f"{value:.0f} ms"
        if self.unit == "x":
            return f"{value:.2f}x"
        return f"{value:.2f}{self.unit}"


@dataclass(frozen=True)
class Arm:
    name: str  # off | edge | mesh (discovery: frozen | live)
    label: str  # for people: "pattern off", "on at the edge", ...
    edge: Policy  # the service's policy at the gateway
    mesh: Policy  # ... and in the sidecars
    pattern_on: bool
    location: str | None  # edge | mesh | None


class Undo:
    """Something an injection did that the end of the fault window takes back. A
    ``recovery`` step (scaling back out) runs after the fault is over, so its time counts
    as recovery, not as fault."""

    def __init__(self, what: str, remove: Callable[[], Any], recovery: bool = False) -> None:
        self.what = what
        self._remove = remove
        self.recovery = recovery

    def remove(self) -> None:
        self._remove()


Inject = Callable[["Lab", Arm], list]  # returns objects with .remove() (faults, Undo)


@dataclass(frozen=True)
class Design:
    name: str
    title: str
    service: str  # where the fault is and whose policy the arms change
    faulty: tuple[str, ...]  # the instances the fault hits
    fault: str  # the fault, in one sentence
    inject: Inject
    metric: Metric
    question: str  # what the experiment asks
    why: str  # how edge and mesh placement differ here (the lesson)
    on: dict  # the pattern's settings (JSON form of gatemesh.policy)
    base: dict = field(default_factory=dict)  # settings every arm has (the pattern's companions)
    trip: tuple[str, ...] = ()  # event kinds that mean "the pattern reacted"
    placements: tuple[str, ...] = ("edge", "mesh")
    arm_labels: tuple[str, str] = ("pattern off", "pattern on")
    onset_during_injection: bool = False  # True: the fault bites while inject() runs (a scale-in);
    # False: once it has returned (a toxic, a kill, misbehave)

    def policy(self, pattern_on: bool) -> Policy:
        policy = all_off().merged(self.base)
        return policy.merged(self.on) if pattern_on else policy

    def arms(self, at: str = "both") -> list[Arm]:
        """The control arm first, then the pattern at the edge and/or in the mesh."""
        off, on = self.policy(False), self.policy(True)
        if self.placements == ("both",):  # a pattern every proxy has at once (discovery)
            return [
                Arm("frozen", self.arm_labels[0], off, off, False, None),
                Arm("live", self.arm_labels[1], off, off, True, None),
            ]
        arms = [Arm("off", "pattern off", off, off, False, None)]
        if at in ("edge", "both"):
            arms.append(Arm("edge", "on at the edge", on, off, True, "edge"))
        if at in ("mesh", "both"):
            arms.append(Arm("mesh", "on in the mesh", off, on, True, "mesh"))
        return arms


# --- the faults --------------------------------------------------------------------------


def _latency(instance: str, ms: float) -> Inject:
    return lambda lab, arm: [lab.faults.latency(instance, ms=ms)]


def _black_hole(*instances: str) -> Inject:
    return lambda lab, arm: [lab.faults.timeout(i) for i in instances]


def _misbehave(*instances: str, status: int) -> Inject:
    return lambda lab, arm: [lab.faults.misbehave(i, error_rate=1.0, error_status=status, seed=1) for i in instances]


def _kill(instance: str) -> Inject:
    return lambda lab, arm: [lab.faults.kill(instance)]


def _scale_in(service: str, keep: int) -> Inject:
    """Scale ``service`` in to ``keep`` under load, back out at the end of the window. In
    the pattern-off arm the control plane is paused first, so no proxy learns of it."""

    def inject(lab: Lab, arm: Arm) -> list:
        before = lab.counts()[service]
        undo: list = []
        if not arm.pattern_on:
            undo.append(lab.faults.pause("controlplane"))
        lab.scale(service, keep)
        # Taken back in order: resume the control plane, then scale out again.
        undo.append(Undo(f"scale {service} back to {before}", lambda: lab.scale(service, before), recovery=True))
        return undo

    return inject


# --- the designs -------------------------------------------------------------------------

DESIGNS: dict[str, Design] = {
    d.name: d
    for d in (
        Design(
            name="timeout",
            title="Timeout (with one retry)",
            service="pricing",
            faulty=("pricing-1",),
            fault="pricing-1 answers 2 s late (Toxiproxy latency toxic, 2000 ms).",
            inject=_latency("pricing-1", 2000),
            base={"retry": {"enabled": True, "max_attempts": 2}},
            on={"timeout": {"enabled": True, "attempt_timeout_s": 0.5, "request_timeout_s": 1.5}},
            metric=Metric("slow_share", f"pages slower than {SLOW_S:g} s", "%", lower_is_better=True, ideal=0.0),
            question="Does a 500 ms attempt timeout keep a slow instance from making pages slow?",
            why="A retry alone cannot help with a slow answer; with a timeout the slow attempt is cut at "
            "500 ms and retried on pricing-2. The gateway's timeout covers the pages it composes; the "
            "sidecar's covers the storefront's pages.",
        ),
        Design(
            name="breaker",
            title="Circuit breaker",
            service="pricing",
            faulty=("pricing-1", "pricing-2"),
            fault="Both pricing instances are a black hole (Toxiproxy timeout toxic: no answer, connection held open).",
            inject=_black_hole("pricing-1", "pricing-2"),
            base={"timeout": {"enabled": True, "attempt_timeout_s": 0.5, "request_timeout_s": 1.0}},
            on={"breaker": {"enabled": True}},
            trip=("breaker-open",),
            metric=Metric(
                "amplification", "attempts sent per call to pricing", "x", lower_is_better=True, ideal=0.0
            ),  # the ideal: nothing sent to a dead service
            question="Does the breaker stop sending calls to a dead dependency, and answer at once instead?",
            why="Pricing is critical, so every page fails in every arm while it is dead; the breaker's "
            "job is to fail fast and leave pricing alone. At the edge it guards the gateway's calls, in "
            "the mesh the storefront's; each arm spares pricing the calls of its half of the pages.",
        ),
        Design(
            name="retry",
            title="Retries and failover (instance killed)",
            service="catalog",
            faulty=("catalog-1",),
            fault="catalog-1's app is killed (kill -9) and restarted at the end of the window; its "
            "sidecar answers 503 meanwhile.",
            inject=_kill("catalog-1"),
            on={"retry": {"enabled": True, "max_attempts": 3}},
            metric=Metric("success_rate", "pages answered", "%", lower_is_better=False, ideal=1.0),
            question="Do retries on another instance hide a dead catalog instance from the pages?",
            why="Without retries one catalog call in three fails and takes its page with it. A retry on a "
            "different instance hides it: at the edge for the gateway's pages, in the mesh for the "
            "storefront's.",
        ),
        Design(
            name="outlier",
            title="Outlier ejection",
            service="catalog",
            faulty=("catalog-1",),
            fault="catalog-1 answers every request with 500 (the app's misbehave knob).",
            inject=_misbehave("catalog-1", status=500),
            on={"outlier": {"enabled": True, "consecutive_errors": 5, "base_ejection_s": 5.0}},
            trip=("ejected",),
            metric=Metric("success_rate", "pages answered", "%", lower_is_better=False, ideal=1.0),
            question="Does ejecting the bad instance stop its errors after a handful of calls?",
            why="Each proxy detects on its own calls: the gateway ejects catalog-1 for the pages it "
            "composes, each storefront sidecar for the storefront's. 500 is not retried, so without "
            "ejection one catalog call in three fails for as long as the fault lasts.",
        ),
        Design(
            name="budget",
            title="Retry budget (retry storm)",
            service="pricing",
            faulty=("pricing-1", "pricing-2"),
            fault="Both pricing instances answer every request with 503 (misbehave).",
            inject=_misbehave("pricing-1", "pricing-2", status=503),
            base={"retry": {"enabled": True, "max_attempts": 3}},
            on={"budget": {"enabled": True, "ratio": 0.2, "min_retries_per_s": 1.0}},
            trip=("retry-budget-exhausted",),
            metric=Metric(
                "amplification", "attempts per call to pricing", "x", lower_is_better=True, ideal=1.0
            ),  # the ideal: no retry at all
            question="Does a retry budget keep retries from tripling the load on a failing service?",
            why="With 3 tries every failed call becomes three; the budget lets retries add at most 20% "
            "(+1/s). At the edge it caps the gateway's retries, in the mesh the storefront sidecars'.",
        ),
        Design(
            name="discovery",
            title="Discovery (scale in and out under load)",
            service="catalog",
            faulty=("catalog-2", "catalog-3"),
            fault="catalog is scaled in from 3 instances to 1 (SIGTERM: deregister, drain, stop), "
            "and back to 3 at the end of the window.",
            inject=_scale_in("catalog", 1),
            on={},
            metric=Metric("success_rate", "pages answered", "%", lower_is_better=False, ideal=1.0),
            question="Do the proxies stop calling instances that are gone, and start calling new ones?",
            why="Every proxy, the gateway and the sidecars alike, watches the registry, so discovery is "
            "not placed at the edge or in the mesh. The control arm freezes it (the control plane "
            "paused during the scale-in), which is what a static list of endpoints would do.",
            placements=("both",),
            arm_labels=("discovery frozen", "discovery live"),
            onset_during_injection=True,
            trip=("endpoints-changed",),
        ),
        Design(
            name="degradation",
            title="Degradation (timeout + fallback on an optional part)",
            service="reviews",
            faulty=("reviews-1", "reviews-2"),
            fault="Both reviews instances are a black hole (Toxiproxy timeout toxic).",
            inject=_black_hole("reviews-1", "reviews-2"),
            on={
                "timeout": {"enabled": True, "attempt_timeout_s": 0.3, "request_timeout_s": 0.5},
                "fallback": {"enabled": True, "serve_last_good": True, "max_age_s": 60.0},
            },
            metric=Metric("answered_1s", f"pages answered within {SLOW_S:g} s", "%", lower_is_better=False, ideal=1.0),
            question="Does a page still come, quickly, when an optional part never answers?",
            why="Reviews are optional, but a page waits for every part: without a timeout it waits until "
            "the client gives up. With a timeout the page comes without reviews (degraded), and with "
            "the fallback it comes with the last reviews seen. The gateway's policy covers the pages "
            "it composes, the sidecar's the storefront's.",
        ),
    )
}

PATTERNS = tuple(DESIGNS)
