"""The resilient call: the one place that fixes the order in which the patterns wrap an
upstream call, for the gateway and the sidecar alike.

Read top to bottom in the order a request travels (linkerd2-proxy's layering), one
method per layer:

  logical   `call`      request deadline → concurrency limit → service breaker →
            `_retries`  retry loop + budget + backoff → fallback
  concrete  `Upstream.choose` (upstream.py): endpoints from discovery → outlier ejection
            → health checks → instance breakers → balancer
  endpoint  `_attempt`  attempt timeout → the wire → one `Outcome`, recorded on the
            instance breaker, the outlier detector and the metrics

A failed final attempt that still produced an HTTP response (a 503 from the app, say) is
returned as that response; only when no response exists does the call raise a Refusal —
unless the service's fallback has an answer, which is returned instead (as an Outcome
whose reason is `fallback`), so a composed page's parts get it as a plain forward does.
"""
from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence

from .clock import Clock, SystemClock
from .discovery import Endpoint
from .events import EventLog
from .healthprobe import health_check_loop
from .http.client import ConnectionPool, UpstreamError
from .http.messages import Headers
from .metrics import ProxyMetrics
from .outcome import CallResult, Outcome, failure_reason
from .patterns.breaker import CircuitBreaker
from .patterns.deadline import DEADLINE_HEADER_BYTES, Deadline, attempt_timeout_s
from .patterns.retry import backoff_s, is_retry_safe, is_retryable
from .policy import Policy, PolicyTable
from .reasons import Reason
from .refusal import Refusal
from .upstream import Upstream

__all__ = ["ATTEMPT_HEADER", "CallResult", "Outcome", "ResilientCaller"]

_DEADLINE_NAME = DEADLINE_HEADER_BYTES
ATTEMPT_HEADER = b"x-gatemesh-attempt"
_DROPPED = frozenset({_DEADLINE_NAME, ATTEMPT_HEADER})   # this hop sets them afresh per attempt


class ResilientCaller:
    def __init__(self, proxy: str, policies: PolicyTable, *, clock: Clock | None = None,
                 rng: random.Random | None = None, metrics: ProxyMetrics | None = None,
                 events: EventLog | None = None, pool: ConnectionPool | None = None):
        self.proxy = proxy
        self.policies = policies
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.metrics = metrics or ProxyMetrics(proxy)
        self.events = events or EventLog(proxy)
        self.pool = pool or ConnectionPool()
        self.upstreams: dict[str, Upstream] = {}
        self.known_services: set[str] = set()

    # --- state from discovery and policy ---------------------------------------------
    def upstream(self, service: str) -> Upstream:
        up = self.upstreams.get(service)
        if up is None:
            up = self.upstreams[service] = Upstream(service, self.policies.get(service), self.clock,
                                                    self.rng, self.metrics, self.events)
        return up

    def update_endpoints(self, services: Mapping[str, Sequence[Endpoint]]) -> None:
        self.known_services = set(services)
        for name in set(services) | set(self.upstreams):
            added, removed = self.upstream(name).set_endpoints(services.get(name, ()))
            if added or removed:
                cause = " ".join([*(f"+{i}" for i in added), *(f"-{i}" for i in removed)])
                self.events.emit("endpoints-changed", name, "", cause)

    def set_policies(self, table: PolicyTable) -> None:
        self.policies = table
        for name, up in self.upstreams.items():
            policy = table.get(name)
            if policy != up.policy:
                up.reconfigure(policy)
                self.events.emit("policy-changed", name, "", "policy updated at runtime")

    def reset(self) -> list[str]:
        """Forget every upstream's learned state (breakers, ejections, budgets, fallback
        answers, health verdicts); endpoints and policies stay. Returns the services reset."""
        for up in self.upstreams.values():
            up.reset()
        self.events.emit("state-reset", "", "", "pattern state cleared by POST /-/reset")
        return sorted(self.upstreams)

    async def health_check_loop(self, stop: asyncio.Event) -> None:
        """Probe the endpoints of every upstream whose policy enables active checks."""
        await health_check_loop(self, stop)

    # --- logical layer -----------------------------------------------------------------
    async def call(self, service: str, method: bytes, target: bytes, headers: Headers, body: bytes,
                   deadline: Deadline | None = None, idempotency_key: bool = False) -> Outcome:
        if service not in self.known_services:
            self.metrics.count_request(service, Reason.UNKNOWN_SERVICE)
            raise Refusal(Reason.UNKNOWN_SERVICE, f"no service named {service!r} is registered")
        up = self.upstreams.get(service) or self.upstream(service)
        p: Policy = up.policy
        try:
            result = await self._guarded(up, p, method, target, headers, body, deadline, idempotency_key)
        except Refusal as refusal:
            cached = up.fallback(method, target, refusal.reason) if p.fallback.enabled else None
            if cached is None:
                self.metrics.count_request(service, refusal.reason)
                raise
            result = cached
        else:
            if p.fallback.enabled and method == b"GET":
                if result.status >= 500:
                    cached = up.fallback(method, target, result.reason or Reason.UPSTREAM_ERROR)
                    if cached is not None:
                        result.release()
                        result = cached
                elif result.status == 200:
                    up.remember(method, target, result)
        self.metrics.count_request(service, result.reason if result.reason is Reason.FALLBACK
                                   else "ok" if result.status < 500 else f"{result.status // 100}xx")
        return result

    async def _guarded(self, up: Upstream, p: Policy, method: bytes, target: bytes, headers: Headers,
                       body: bytes, deadline: Deadline | None, idempotency_key: bool) -> Outcome:
        """Request deadline, concurrency limit and service breaker around the retry loop."""
        service = up.service
        if p.timeout.enabled:
            own = Deadline.after(self.clock, p.timeout.request_timeout_s)
            if deadline is None or own.at < deadline.at:   # both on self.clock: the earlier one wins
                deadline = own
        if deadline is not None and deadline.expired:
            raise Refusal(Reason.DEADLINE_EXCEEDED, "the request's deadline had passed before it was sent upstream")
        if p.concurrency.enabled and not up.limiter.try_acquire():
            raise Refusal(Reason.OVERLOADED, f"{service} has {up.limiter.in_flight} requests in flight, the limit")
        try:
            breaker = up.breaker if p.breaker.enabled else None
            if breaker is not None and not breaker.try_acquire():
                raise Refusal(Reason.CIRCUIT_OPEN, f"the circuit breaker for {service} is open")
            started = self.clock.monotonic()
            try:
                result = await self._retries(up, p, method, target, headers, body, deadline, idempotency_key)
            except asyncio.CancelledError:
                if breaker is not None:
                    breaker.on_ignored()
                raise
            except Refusal:
                if breaker is not None:
                    breaker.on_failure(self.clock.monotonic() - started)
                raise
            if breaker is not None:
                (breaker.on_failure if result.status >= 500 else breaker.on_success)(self.clock.monotonic() - started)
            return result
        finally:
            if p.concurrency.enabled:
                up.limiter.release()

    async def _retries(self, up: Upstream, p: Policy, method: bytes, target: bytes, headers: Headers,
                       body: bytes, deadline: Deadline | None, idempotency_key: bool) -> Outcome:
        """The retry loop: each attempt through the concrete and endpoint layers; whether
        to try again is patterns/retry.py's answer, whether it is affordable the budget's."""
        service = up.service
        retry_safe = is_retry_safe(method, idempotency_key)
        max_attempts = p.retry.max_attempts if p.retry.enabled else 1
        if p.budget.enabled:
            up.budget.record_request()
        base = [(n, v) for n, v in headers if n not in _DROPPED]
        tried: set[str] = set()
        last: Outcome | None = None
        budget_empty = False
        attempt = 0
        while True:
            chosen = up.choose(tried, first=last is None)
            if chosen is None:
                break
            ep, breaker = chosen
            attempt += 1
            tried.add(ep.id)
            last = await self._attempt(up, p, ep, breaker, method, target, base, body, deadline, attempt)
            if not last.failed:
                return last
            if attempt >= max_attempts or not is_retryable(
                    p.retry, last.status if last.answered else None, None if last.answered else last.reason, retry_safe):
                break
            if deadline is not None and deadline.expired:
                break
            if p.budget.enabled and not up.budget.try_withdraw():
                budget_empty = True
                self.metrics.budget_refusals.labels(self.proxy, service).inc()
                self.events.emit(Reason.RETRY_BUDGET_EXHAUSTED, service, ep.id,
                                 f"retry {attempt} of {max_attempts} not sent: budget empty")
                break
            last.release()
            self.metrics.retries.labels(self.proxy, service).inc()
            pause = backoff_s(p.retry, attempt, self.rng)
            if deadline is not None:
                pause = min(pause, deadline.remaining_s())
            if pause > 0:
                await self.clock.sleep(pause)
        assert last is not None   # choose(first=True) raises rather than return None
        if last.answered:
            if budget_empty:
                last.reason = Reason.RETRY_BUDGET_EXHAUSTED
            return last
        if budget_empty:
            raise Refusal(Reason.RETRY_BUDGET_EXHAUSTED, f"{last.message}; no retry left in {service}'s retry budget")
        raise last.refusal()

    # --- endpoint layer ----------------------------------------------------------------
    async def _attempt(self, up: Upstream, p: Policy, ep: Endpoint, breaker: CircuitBreaker | None, method: bytes,
                       target: bytes, base: Headers, body: bytes, deadline: Deadline | None, attempt: int) -> Outcome:
        """One try at one endpoint, bounded by the attempt timeout; classified once."""
        if deadline is not None:
            out = [*base, (_DEADLINE_NAME, deadline.header_value()), (ATTEMPT_HEADER, b"%d" % attempt)]
        else:
            out = [*base, (ATTEMPT_HEADER, b"%d" % attempt)]
        timeout = attempt_timeout_s(p.timeout, deadline)
        clock = self.clock
        t0 = clock.monotonic()
        up.balancer.on_start(ep.id)
        try:
            resp = await self.pool.request(ep.host, ep.port, method, target, out, body, timeout_s=timeout)
            result = Outcome(resp.status, resp.headers, resp, b"", attempt, ep.id)
        except (TimeoutError, UpstreamError) as exc:
            reason = failure_reason(exc)
            result = Outcome.failure(reason, f"{up.service} instance {ep.id}: {reason.replace('-', ' ')} after "
                                             f"{(clock.monotonic() - t0) * 1000:.0f} ms", attempt, ep.id)
        except asyncio.CancelledError:
            if breaker is not None:
                breaker.on_ignored()
            raise
        finally:
            up.balancer.on_end(ep.id)
        elapsed = clock.monotonic() - t0
        failed = result.failed
        if breaker is not None:
            (breaker.on_failure if failed else breaker.on_success)(elapsed)
        if p.outlier.enabled:
            up.outlier.on_result(ep.id, not failed, len(up.ids))
        self.metrics.count_attempt(up.service, ep.id, str(result.status) if result.answered else result.reason or "")
        if not failed:
            self.metrics.observe_latency(up.service, elapsed)
        return result
