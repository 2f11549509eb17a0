"""Panic routing (Envoy's healthy panic threshold): when too few endpoints are healthy,
balance over all of them, ejected ones included.

Why: an ejection is a guess made when the endpoint failed, and it lasts
``base_ejection_s`` (30 s) even after the endpoint recovered. If the endpoints still in
service then fail too, keeping the ejected ones out turns a partial outage into a whole
one (issue 12: reset_peer on orders-2 got it ejected; it healed; orders-1's sidecar was
then killed for 4 s and 54 of 200 orders failed, although orders-2 was fine). Envoy's
answer: below ``healthy_panic_threshold`` (50 %) healthy hosts, the load balancer ignores
health and spreads over every host; some requests fail, but not all.

"Healthy" here is what the caller's filters left: not ejected, not failing active health
checks, instance breaker not open (an open breaker still refuses in the endpoint layer:
panic widens the choice, it does not force a call through a breaker).

Two scopes, one threshold:

- ``upstream``: fewer than ``panic_threshold_percent`` of the endpoints are healthy →
  every endpoint is a candidate. Entering and leaving emits ``panic-entered`` /
  ``panic-exited`` (once per change, not per request).
- ``request``: a retry whose healthy endpoints have all failed it already sees 0 % healthy
  for itself, so it may go to an untried endpoint outside the healthy set before going
  back to one that just failed. This is Envoy's panic combined with its
  ``previous_hosts`` retry predicate; without it the first requests after a second
  failure retry on the failing endpoint until its breaker opens.

``panic_threshold_percent = 0`` turns both off (Envoy: 0 disables panic mode).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

PANIC_ENTERED = "panic-entered"
PANIC_EXITED = "panic-exited"
UPSTREAM, REQUEST = "upstream", "request"
DEFAULT_PANIC_THRESHOLD_PERCENT = 50.0  # Envoy's common_lb_config.healthy_panic_threshold default


@dataclass(frozen=True, slots=True)
class PanicEvent:
    kind: str  # panic-entered | panic-exited
    healthy: int
    total: int
    cause: str  # a sentence


class PanicRouter:
    """Decides the candidate set for one pick; ``in_panic`` is the upstream-scope state."""

    __slots__ = ("service", "_on_event", "_on_panic", "in_panic", "upstream_picks", "request_picks")

    def __init__(
        self,
        service: str,
        on_event: Callable[[PanicEvent], None] | None = None,
        on_panic: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self._on_event = on_event
        self._on_panic = on_panic  # called with the scope of every pick made in panic (a metric)
        self.in_panic = False
        self.upstream_picks = 0
        self.request_picks = 0

    def candidates(
        self, ids: Sequence[str], healthy: Sequence[str], tried: Collection[str], threshold_percent: float
    ) -> Sequence[str]:
        """``healthy`` (a subset of ``ids``), or ``ids`` when panic applies."""
        total = len(ids)
        if threshold_percent <= 0 or total == 0:
            return healthy
        n = len(healthy)
        if n == total:  # the common path: nothing unhealthy, nothing to widen
            if self.in_panic:
                self._set(False, n, total, threshold_percent)
            return healthy
        panic = n * 100.0 < threshold_percent * total
        if panic != self.in_panic:
            self._set(panic, n, total, threshold_percent)
        if panic:
            self.upstream_picks += 1
            if self._on_panic is not None:
                self._on_panic(UPSTREAM)
            return ids
        if tried and all(i in tried for i in healthy) and any(i not in tried for i in ids):
            self.request_picks += 1
            if self._on_panic is not None:
                self._on_panic(REQUEST)
            return ids
        return healthy

    def _set(self, panic: bool, healthy: int, total: int, threshold: float) -> None:
        self.in_panic = panic
        share = healthy * 100.0 / total
        if panic:
            cause = (
                f"{healthy} of {total} {self.service} endpoints healthy ({share:.0f}%), below the panic "
                f"threshold of {threshold:g}%: balancing over all {total}, ejected ones included."
            )
        else:
            cause = (
                f"{healthy} of {total} {self.service} endpoints healthy ({share:.0f}%), at or above the "
                f"panic threshold of {threshold:g}%: ejected endpoints are left out again."
            )
        if self._on_event is not None:
            self._on_event(PanicEvent(PANIC_ENTERED if panic else PANIC_EXITED, healthy, total, cause))

    def state(self, threshold_percent: float) -> dict[str, object]:
        """For ``/-/upstreams``."""
        return {
            "threshold_percent": threshold_percent,
            "in_panic": self.in_panic,
            "upstream_picks": self.upstream_picks,
            "request_picks": self.request_picks,
        }
