"""The resilient call: the one place that fixes the order in which the patterns wrap an
upstream call, for the gateway and the sidecar alike.

Read top to bottom in the order a request travels (linkerd2-proxy's layering):

  logical   request deadline → concurrency limit → service breaker → retry loop + budget
  concrete  endpoints from discovery → outlier ejection → instance breakers → balancer
  endpoint  instance breaker → attempt timeout → the wire

A failed final attempt that still produced an HTTP response (a 503 from the app, say) is
returned as that response; only when no response exists does the call raise a Refusal.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Mapping, Sequence

from .clock import Clock, SystemClock
from .discovery import Endpoint
from .events import EventLog
from .http.client import ClientResponse, ConnectFailed, ConnectionPool, UpstreamError
from .http.messages import Headers
from .metrics import ProxyMetrics
from .patterns.deadline import DEADLINE_HEADER, Deadline, attempt_timeout_s
from .patterns.retry import backoff_s, is_retry_safe
from .policy import Policy, PolicyTable
from .refusal import Refusal
from .upstream import Upstream

_DEADLINE_NAME = DEADLINE_HEADER.encode() if isinstance(DEADLINE_HEADER, str) else DEADLINE_HEADER
ATTEMPT_HEADER = b"x-gatemesh-attempt"


@dataclass(slots=True)
class CallResult:
    """An upstream answer: a live response, or a cached one when `response` is None."""
    status: int
    headers: Headers
    response: ClientResponse | None
    body: bytes
    attempts: int
    instance: str
    note: str | None = None   # a reason worth telling the client even on an answer (fallback, budget)


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

    # --- active health checks ---------------------------------------------------------
    async def health_check_loop(self, stop: asyncio.Event) -> None:
        """Probe the endpoints of every upstream whose policy enables active checks."""
        while not stop.is_set():
            now = self.clock.monotonic()
            for up in list(self.upstreams.values()):
                cfg = up.policy.health_check
                if cfg.enabled and up.ids and now >= up.next_probe_at:
                    up.next_probe_at = now + cfg.interval_s
                    await asyncio.gather(*(self._probe(up, ep) for ep in list(up.endpoints.values())))
            try:
                await asyncio.wait_for(stop.wait(), 0.05)
            except TimeoutError:
                pass

    async def _probe(self, up: Upstream, ep: Endpoint) -> None:
        cfg = up.policy.health_check
        detail = ""
        try:
            async with asyncio.timeout(cfg.timeout_s):
                resp = await self.pool.request(ep.host, ep.port, b"GET", cfg.path.encode(),
                                               [(b"host", up.service.encode()), (b"user-agent", b"gatemesh-health-check")])
                await resp.read()
            ok = 200 <= resp.status < 400
            detail = f"status {resp.status}"
        except TimeoutError:
            ok, detail = False, f"no answer within {cfg.timeout_s * 1000:.0f} ms"
        except UpstreamError as exc:
            ok, detail = False, str(exc)
        up.health.record(ep.id, ok, detail)

    # --- the call ----------------------------------------------------------------------
    async def call(self, service: str, method: bytes, target: bytes, headers: Headers, body: bytes,
                   deadline: Deadline | None = None, idempotency_key: bool = False) -> CallResult:
        if service not in self.known_services:
            raise Refusal("unknown-service", f"no service named {service!r} is registered")
        up = self.upstreams.get(service) or self.upstream(service)
        p: Policy = up.policy
        if p.timeout.enabled:
            own = Deadline.after(self.clock, p.timeout.request_timeout_s)
            if deadline is None or own.at < deadline.at:   # both on self.clock: the earlier one wins
                deadline = own
        if deadline is not None and deadline.expired:
            raise Refusal("deadline-exceeded", "the request's deadline had passed before it was sent upstream")
        if p.concurrency.enabled and not up.limiter.try_acquire():
            raise Refusal("overloaded", f"{service} has {up.limiter.in_flight} requests in flight, the limit")
        try:
            if p.breaker.enabled and not up.breaker.try_acquire():
                raise Refusal("circuit-open", f"the circuit breaker for {service} is open")
            started = self.clock.monotonic()
            try:
                result = await self._attempts(up, p, method, target, headers, body, deadline, idempotency_key)
            except asyncio.CancelledError:
                if p.breaker.enabled:
                    up.breaker.on_ignored()
                raise
            except Refusal:
                if p.breaker.enabled:
                    up.breaker.on_failure(self.clock.monotonic() - started)
                raise
            if p.breaker.enabled:
                elapsed = self.clock.monotonic() - started
                if result.status >= 500:
                    up.breaker.on_failure(elapsed)
                else:
                    up.breaker.on_success(elapsed)
            return result
        finally:
            if p.concurrency.enabled:
                up.limiter.release()

    async def _attempts(self, up: Upstream, p: Policy, method: bytes, target: bytes, headers: Headers,
                        body: bytes, deadline: Deadline | None, idempotency_key: bool) -> CallResult:
        service = up.service
        retry_safe = is_retry_safe(method, idempotency_key)
        max_attempts = p.retry.max_attempts if p.retry.enabled else 1
        if p.budget.enabled:
            up.budget.record_request()
        base_headers = [(n, v) for n, v in headers if n != _DEADLINE_NAME and n != ATTEMPT_HEADER]
        tried: set[str] = set()
        attempt = 0
        last_error: Refusal | None = None
        last_response: CallResult | None = None
        note: str | None = None
        while True:
            ep = up.pick(tried)
            if ep is None:
                if last_response is not None or last_error is not None:
                    break
                raise Refusal("no-healthy-upstream", f"{service} has no endpoint that is registered, un-ejected and not circuit-broken")
            breaker = up.instance_breaker(ep.id) if p.breaker.enabled else None
            if breaker is not None and not breaker.try_acquire():
                tried.add(ep.id)  # half-open with its probes busy: treat as unavailable for this request
                if len(tried) >= len(up.ids):
                    if last_response is None and last_error is None:
                        raise Refusal("circuit-open", f"every {service} instance's circuit breaker is open")
                    break
                continue
            attempt += 1
            tried.add(ep.id)
            if deadline is not None:
                out = [*base_headers, (_DEADLINE_NAME, deadline.header_value()), (ATTEMPT_HEADER, b"%d" % attempt)]
            else:
                out = [*base_headers, (ATTEMPT_HEADER, b"%d" % attempt)]
            timeout = attempt_timeout_s(p.timeout, deadline)
            t0 = self.clock.monotonic()
            up.balancer.on_start(ep.id)
            kind: str | None = None
            resp: ClientResponse | None = None
            try:
                resp = await self.pool.request(ep.host, ep.port, method, target, out, body, timeout_s=timeout)
            except TimeoutError:
                kind = "timeout"
            except ConnectFailed:
                kind = "connect-failed"
            except UpstreamError as exc:
                kind = exc.reason   # upstream-reset, or a protocol error that a retry would only repeat
            except asyncio.CancelledError:
                if breaker is not None:
                    breaker.on_ignored()
                raise
            finally:
                up.balancer.on_end(ep.id)
            elapsed = self.clock.monotonic() - t0
            failed = kind is not None or resp.status >= 500
            if breaker is not None:
                (breaker.on_failure if failed else breaker.on_success)(elapsed)
            if p.outlier.enabled:
                up.outlier.on_result(ep.id, not failed, len(up.ids))
            self.metrics.count_attempt(service, ep.id, kind or str(resp.status))
            if not failed:
                self.metrics.observe_latency(service, elapsed)
                return CallResult(resp.status, resp.headers, resp, b"", attempt, ep.id)
            if kind is None:
                last_response = CallResult(resp.status, resp.headers, resp, b"", attempt, ep.id)
                last_error = None
                retryable = resp.status in p.retry.retry_on_statuses and retry_safe
            else:
                last_error = Refusal(kind,
                                     f"{service} instance {ep.id}: {kind.replace('-', ' ')} after {elapsed * 1000:.0f} ms")
                last_response = None
                retryable = ((kind == "connect-failed" and p.retry.retry_on_connect_failure)  # nothing was sent: safe for any method
                             or (kind == "timeout" and p.retry.retry_on_timeout and retry_safe)
                             or (kind == "upstream-reset" and p.retry.retry_on_reset and retry_safe))
            if not retryable or attempt >= max_attempts:
                break
            if deadline is not None and deadline.expired:
                break
            if p.budget.enabled and not up.budget.try_withdraw():
                note = "retry-budget-exhausted"
                self.metrics.budget_refusals.labels(self.proxy, service).inc()
                self.events.emit("retry-budget-exhausted", service, ep.id, f"retry {attempt} of {max_attempts} not sent: budget empty")
                break
            if resp is not None:
                resp.release()
            self.metrics.retries.labels(self.proxy, service).inc()
            pause = backoff_s(p.retry, attempt, self.rng)
            if deadline is not None:
                pause = min(pause, deadline.remaining_s())
            if pause > 0:
                await self.clock.sleep(pause)
        if last_response is not None:
            last_response.note = note
            return last_response
        assert last_error is not None
        if note is not None and last_error.reason in ("timeout", "connect-failed", "upstream-reset"):
            raise Refusal("retry-budget-exhausted", f"{last_error.message}; no retry left in {service}'s retry budget")
        raise last_error
