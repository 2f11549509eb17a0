"""What `gatemesh lint` reasons about: the policies in force at each placement, the
topology's paths and instance counts, and the traffic and faults a lab or experiment is
about to send. Plain frozen data; the checks (``checks.py``) only read it.

A *path* is the chain of proxies a client request crosses, each hop naming the placement
whose policy applies and the service it calls. Which hops exist depends on the topology
(``docs/contracts.md``): in ``edge-mesh`` the page composed in the mesh is

    client ─► gateway ──(edge policy for storefront)──► storefront
                          storefront's sidecar ──(mesh policy for catalog)──► catalog
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gatemesh.policy import Policy, PolicyTable
from gatemesh.topology.counts import DEFAULT_COUNTS

EDGE, MESH = "edge", "mesh"

#: Who the composite service calls: the storefront composes a page from these four
#: (services/storefront/app.py; the gateway's composition calls the same four).
PAGE_PARTS: tuple[str, ...] = ("catalog", "pricing", "inventory", "reviews")

#: Fault kinds a lint understands; the same names as `gatemesh fault` (toxics, process
#: faults, app misbehaviour).
FAULT_KINDS = ("latency", "timeout", "reset_peer", "down", "error", "kill", "pause")
#: Faults after which a call fails fast (a refused or reset connection, an error answer).
FAST_FAILURES = frozenset({"reset_peer", "down", "error", "kill"})
#: Faults after which a call hangs until a timeout ends it.
HANGS = frozenset({"timeout", "pause"})


class LintError(ValueError):
    """A lint input is not valid; the message is a sentence."""


@dataclass(frozen=True)
class Fault:
    """One fault the run will inject. Latency in ms, as Toxiproxy's own attributes."""

    instance: str  # catalog-1
    kind: str  # one of FAULT_KINDS
    latency_ms: float = 0.0  # latency: the added delay
    jitter_ms: float = 0.0  # latency: +/- this much
    error_rate: float = 1.0  # error: share of calls the app fails
    error_status: int = 503  # error: the status the app answers (`gatemesh fault misbehave` default 500)
    duration_s: float = 10.0  # how long the fault stays in

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise LintError(f"unknown fault kind {self.kind!r}; the kinds are: {', '.join(FAULT_KINDS)}")
        if "-" not in self.instance:
            raise LintError(f"a fault names an instance such as catalog-1, got {self.instance!r}")
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.duration_s <= 0:
            raise LintError("a fault's latency and jitter are >= 0 ms and its duration is > 0 s")
        if not 0.0 < self.error_rate <= 1.0:
            raise LintError(f"error_rate is a share of calls in (0, 1], got {self.error_rate!r}")

    @property
    def service(self) -> str:
        return self.instance.rsplit("-", 1)[0]


@dataclass(frozen=True)
class Traffic:
    """The load a lab or experiment sends to the entry (the product pages)."""

    rate_per_s: float = 10.0  # page requests per second; the labs' default load
    mesh_share: float = 0.5  # share of pages composed in the mesh (/api/storefront); the rest at the edge

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or not 0.0 <= self.mesh_share <= 1.0:
            raise LintError("traffic needs rate_per_s > 0 and mesh_share in [0, 1]")


@dataclass(frozen=True)
class Hop:
    placement: str  # edge | mesh: whose policy table applies
    service: str  # the service this hop calls


@dataclass(frozen=True)
class Setup:
    """Everything a lint looks at."""

    topology: str
    policies: Mapping[str, PolicyTable]  # placement -> table in force
    counts: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_COUNTS))
    traffic: Traffic = field(default_factory=Traffic)
    faults: tuple[Fault, ...] = ()

    def policy(self, placement: str, service: str) -> Policy | None:
        table = self.policies.get(placement)
        return None if table is None else table.get(service)

    def placements(self) -> list[str]:
        return [p for p in (EDGE, MESH) if p in self.policies]

    def faulty(self, service: str) -> list[Fault]:
        return [f for f in self.faults if f.service == service]

    def paths(self) -> list[tuple[float, tuple[Hop, ...]]]:
        """(share of page traffic, hops) for each way a page's part is fetched."""
        out: list[tuple[float, tuple[Hop, ...]]] = []
        edge_share = 1.0 - self.traffic.mesh_share
        for part in PAGE_PARTS:
            if self.topology in ("edge", "edge-mesh"):
                out.append((edge_share, (Hop(EDGE, part),)))  # the page composed at the gateway
            if self.topology == "edge":
                # storefront's app calls out through the gateway's internal listener
                out.append((self.traffic.mesh_share, (Hop(EDGE, "storefront"), Hop(EDGE, part))))
            elif self.topology == "edge-mesh":
                out.append((self.traffic.mesh_share, (Hop(EDGE, "storefront"), Hop(MESH, part))))
            elif self.topology in ("mesh", "sidecar-gateway"):
                # the entry is storefront's (inbound) sidecar, which forwards and never retries
                out.append((1.0, (Hop(MESH, part),)))
        return out

    def rate_at(self, placement: str, service: str) -> float:
        """Client-driven calls per second that ``placement``'s proxies make to ``service``."""
        rate = 0.0
        for share, hops in self.paths():
            if any(h.placement == placement and h.service == service for h in hops):
                rate += share * self.traffic.rate_per_s
        if service == "storefront":
            rate /= len(PAGE_PARTS)  # one storefront call per page, not one per part
        return rate


@dataclass(frozen=True)
class Finding:
    """One trap: what will happen, with the numbers, and how to avoid it."""

    code: str  # ejection-cap, breaker-min-calls, ...
    placement: str  # edge | mesh | path
    service: str
    message: str  # a sentence with the numbers
    fix: str  # a sentence: the setting or the fault to change

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "placement": self.placement,
            "service": self.service,
            "message": self.message,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        return f"[{self.code}] {self.placement} {self.service}: {self.message}\n    fix: {self.fix}"
