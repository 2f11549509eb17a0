"""What one proxy keeps about one upstream service: its endpoints, the live pattern
objects built from its policy, and the pipeline's concrete layer (`choose`: which
endpoint the next attempt goes to) and its fallback answers.

A policy change reconfigures the objects in place, so a breaker that is open stays
open when someone retunes its threshold, and counters survive (as in Envoy, where a
cluster update keeps host health).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .clock import Clock
from .discovery import Endpoint
from .events import EventLog
from .http.messages import strip_hop_by_hop
from .metrics import BREAKER_STATE_VALUE, ProxyMetrics
from .outcome import Outcome
from .patterns.balancer import make_balancer
from .patterns.breaker import BreakerState, CircuitBreaker, Transition
from .patterns.budget import RetryBudget
from .patterns.concurrency import ConcurrencyLimiter
from .patterns.fallback import LastGoodCache
from .patterns.healthcheck import HealthTracker
from .patterns.outlier import OutlierDetector, OutlierEvent
from .patterns.panic import PanicEvent, PanicRouter
from .policy import Policy
from .reasons import Reason
from .refusal import Refusal

SERVICE_LEVEL = "*"  # the instance label of the service-wide breaker
# Headers of a stored answer that name the hop that first served it, not this answer.
_NOT_REPLAYED = frozenset({b"x-gatemesh-reason", b"x-gatemesh-proxy"})


def breaker_name(service: str, instance: str = SERVICE_LEVEL) -> str:
    """The one naming format of breakers: ``service`` or ``service/instance``."""
    return service if instance == SERVICE_LEVEL else f"{service}/{instance}"


def breaker_instance(name: str) -> str:
    """The instance label of a breaker named by `breaker_name` (`*` for the service's own)."""
    return name.split("/", 1)[1] if "/" in name else SERVICE_LEVEL


class Upstream:
    def __init__(
        self, service: str, policy: Policy, clock: Clock, rng: random.Random, metrics: ProxyMetrics, events: EventLog
    ):
        self.service = service
        self.policy = policy
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._events = events
        self.balancer = make_balancer(policy.balancer, rng)
        self.limiter = ConcurrencyLimiter(policy.concurrency)
        self.endpoints: dict[str, Endpoint] = {}
        self.ids: list[str] = []
        self._fresh_state()
        # Exported from the start (0 = closed), so a dashboard has a line before anything trips.
        metrics.breaker_state.labels(metrics.proxy, service, SERVICE_LEVEL).set(0)

    def reset(self) -> None:
        """Fresh learned state: breakers closed, nothing ejected, a full budget, no stored
        fallback answers, every endpoint healthy (`POST /-/reset`). The limiter and the
        balancer keep counting the requests in flight, which still end on them."""
        m = self._metrics
        for b in [self.breaker, *self.instance_breakers.values()]:
            if b.state is not BreakerState.CLOSED:  # the gauges go back to closed with them
                m.breaker_state.labels(m.proxy, self.service, breaker_instance(b.name)).set(0)
        self._fresh_state()

    def _fresh_state(self) -> None:
        policy, clock = self.policy, self._clock
        self.breaker = CircuitBreaker(breaker_name(self.service), policy.breaker, clock, self._on_transition)
        self.instance_breakers: dict[str, CircuitBreaker] = {}
        self._unclosed: set[str] = (
            set()
        )  # instances whose breaker is open or half-open: pick() skips its filter while empty
        self.outlier = OutlierDetector(policy.outlier, clock, self._on_outlier)
        self.panic = PanicRouter(self.service, self._on_panic_event, self._on_panic_pick)
        self.budget = RetryBudget(policy.budget, clock)
        self.cache = LastGoodCache(policy.fallback, clock)
        self.health = HealthTracker(policy.health_check, self._on_health)
        self.next_probe_at = 0.0  # clock time of the next active health-check round

    # --- configuration -------------------------------------------------------------
    def reconfigure(self, policy: Policy) -> None:
        old = self.policy
        self.policy = policy
        self.breaker.reconfigure(policy.breaker)
        for b in self.instance_breakers.values():
            b.reconfigure(policy.breaker)
        if policy.balancer != old.balancer:
            self.balancer = make_balancer(policy.balancer, self._rng)
        self.outlier.reconfigure(policy.outlier)
        if policy.budget != old.budget:
            self.budget = RetryBudget(policy.budget, self._clock)
        self.limiter.reconfigure(policy.concurrency)
        if policy.fallback != old.fallback:
            self.cache = LastGoodCache(policy.fallback, self._clock)
        self.health.reconfigure(policy.health_check)

    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> tuple[list[str], list[str]]:
        """Replace the endpoint set; returns (added ids, removed ids)."""
        new = {e.id: e for e in endpoints}
        added = [i for i in new if i not in self.endpoints]
        removed = [i for i in self.endpoints if i not in new]
        self.endpoints = new
        self.ids = sorted(new)
        m = self._metrics
        for i in added:  # closed until it trips: a series from the moment the instance is known
            m.breaker_state.labels(m.proxy, self.service, i).set(0)
        for i in removed:
            self.instance_breakers.pop(i, None)
            self._unclosed.discard(i)
            try:  # a departed instance's breaker is gone with it, and so is its series
                m.breaker_state.remove(m.proxy, self.service, i)
            except KeyError:
                pass
        if removed:
            self.health.forget_except(new)
        m.endpoints.labels(m.proxy, self.service).set(len(new))
        return added, removed

    # --- choosing an endpoint --------------------------------------------------------
    def instance_breaker(self, instance: str) -> CircuitBreaker:
        b = self.instance_breakers.get(instance)
        if b is None:
            b = self.instance_breakers[instance] = CircuitBreaker(
                breaker_name(self.service, instance), self.policy.breaker, self._clock, self._on_transition
            )
        return b

    def choose(self, tried: set[str], first: bool) -> tuple[Endpoint, CircuitBreaker | None] | None:
        """The concrete layer: the endpoint for the next attempt and its breaker's permit.

        None when no endpoint is left for a retry; on the `first` attempt that is a Refusal
        instead (no-healthy-upstream, or circuit-open when every instance breaker refused).
        An instance whose half-open breaker has its probes busy counts as tried."""
        refused: set[str] | None = None
        while True:
            ep = self.pick(tried)
            if ep is None:
                if first:
                    raise Refusal(
                        Reason.NO_HEALTHY_UPSTREAM,
                        f"{self.service} has no endpoint that is registered, un-ejected and not circuit-broken",
                    )
                return None
            if not self.policy.breaker.enabled:
                return ep, None
            breaker = self.instance_breakers.get(ep.id) or self.instance_breaker(ep.id)
            if breaker.try_acquire():
                return ep, breaker
            if refused is None:
                refused = set()
            elif ep.id in refused:  # picked again: every candidate's breaker has refused
                break
            refused.add(ep.id)
            tried.add(ep.id)
            if len(tried) >= len(self.ids):
                break
        if first:
            raise Refusal(Reason.CIRCUIT_OPEN, f"every {self.service} instance's circuit breaker is open")
        return None

    # --- fallback --------------------------------------------------------------------
    def remember(self, method: bytes, target: bytes, result: Outcome) -> None:
        """Keep a good GET answer whose body is already whole, for a later fallback."""
        resp = result.response
        if resp is not None and resp.complete:
            self.cache.store((method, target), resp.status, strip_hop_by_hop(resp.headers), resp.body)

    def fallback(self, method: bytes, target: bytes, cause: Reason) -> Outcome | None:
        """The fallback answer to a GET that failed with `cause`; None when there is none."""
        if method != b"GET":
            return None
        chosen = self.cache.choose((method, target))  # None whenever fallback is off
        if chosen is None:
            return None
        self._metrics.fallbacks.labels(self._metrics.proxy, self.service).inc()
        headers = [(n, v) for n, v in chosen.headers if n not in _NOT_REPLAYED]
        headers.append((b"x-gatemesh-fallback-cause", cause.encode()))
        return Outcome(chosen.status, headers, None, chosen.body, 0, "", Reason.FALLBACK)

    def pick(self, tried: set[str]) -> Endpoint | None:
        """The next endpoint to try: not ejected, breaker not open, preferably untried."""
        ids = self.ids
        if not ids:
            return None
        candidates: Sequence[str] = self.outlier.healthy(ids) if self.policy.outlier.enabled else ids
        if self.health.any_unhealthy:
            # As with ejection: never an empty set (panic) — better a doubtful endpoint than none.
            candidates = [i for i in candidates if self.health.is_healthy(i)] or candidates
        if self.policy.breaker.enabled and self._unclosed:
            candidates = [
                i
                for i in candidates
                if (b := self.instance_breakers.get(i)) is None or b.state is not BreakerState.OPEN
            ]
        # Every endpoint a candidate and no panic to leave: candidates() would return them as
        # they are (a call saved on the everyday request).
        chosen = (
            ids
            if candidates is ids and not self.panic.in_panic
            else self.panic.candidates(ids, candidates, tried, self.policy.outlier.panic_threshold_percent)
        )
        choice = self.balancer.pick(chosen, tried)
        if choice is None and tried:
            # Every candidate was tried once: a retry may go back to one (better than failing).
            choice = self.balancer.pick(chosen, ())
        return self.endpoints.get(choice) if choice is not None else None

    # --- observability ---------------------------------------------------------------
    def _on_transition(self, t: Transition) -> None:
        instance = breaker_instance(t.name)
        if instance != SERVICE_LEVEL:
            (self._unclosed.discard if t.to_state is BreakerState.CLOSED else self._unclosed.add)(instance)
        to = t.to_state.value
        m = self._metrics
        m.breaker_state.labels(m.proxy, self.service, instance).set(BREAKER_STATE_VALUE[to])
        m.breaker_transitions.labels(m.proxy, self.service, instance, to).inc()
        self._events.emit(f"breaker-{to.replace('_', '-')}", self.service, instance, t.cause)

    def _on_health(self, kind: str, endpoint: str, cause: str) -> None:
        self._metrics.ejections.labels(self._metrics.proxy, self.service, endpoint, kind).inc()
        self._events.emit(kind, self.service, endpoint, cause)

    def _on_panic_event(self, ev: PanicEvent) -> None:
        self._metrics.panic_state.labels(self._metrics.proxy, self.service).set(1 if ev.kind == "panic-entered" else 0)
        self._events.emit(ev.kind, self.service, "", ev.cause)

    def _on_panic_pick(self, scope: str) -> None:
        self._metrics.panic_picks.labels(self._metrics.proxy, self.service, scope).inc()

    def _on_outlier(self, ev: OutlierEvent) -> None:
        m = self._metrics
        m.ejections.labels(m.proxy, self.service, ev.endpoint, ev.kind).inc()
        self._events.emit(ev.kind, self.service, ev.endpoint, ev.cause)
