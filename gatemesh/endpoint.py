"""The pipeline's endpoint layer: one try at one endpoint, in two plain calls around the
one await on the wire (pipeline.py's retry loop makes the call between them).

  `attempt_starts`  the headers this try carries (the deadline left, the attempt number)
                    and how long it may take: the attempt timeout, cut to the deadline
  `attempt_ends`    the try's one `Outcome`, classified once from the answer or the
                    client's exception, recorded on the instance breaker, the outlier
                    detector and the metrics

Not a coroutine of its own: every await frame is one more that each resumption of the
request passes through, on every request.
"""

from __future__ import annotations

from .clock import Clock
from .discovery import Endpoint
from .http.client import ClientResponse
from .http.messages import DECIMAL, Headers
from .metrics import ProxyMetrics
from .outcome import Outcome, failure_reason
from .patterns.breaker import CircuitBreaker
from .patterns.deadline import DEADLINE_HEADER_BYTES, Deadline, for_attempt
from .policy import Policy
from .upstream import Upstream

ATTEMPT_HEADER = b"x-gatemesh-attempt"
# This hop's own request headers: every attempt sets them afresh, so the pipeline is
# handed headers without them (Proxy.outgoing_headers strips them).
HOP_HEADERS = frozenset({DEADLINE_HEADER_BYTES, ATTEMPT_HEADER})


def attempt_starts(
    up: Upstream, p: Policy, ep: Endpoint, base: Headers, deadline: Deadline | None, attempt: int
) -> tuple[Headers, float | None]:
    """What one try at `ep` sends, and its timeout (None: no limit); the balancer counts it."""
    balancer = up.balancer
    if balancer.counts_in_flight:
        balancer.on_start(ep.id)
    if deadline is not None:
        left, timeout = for_attempt(p.timeout, deadline)
        return [*base, (DEADLINE_HEADER_BYTES, left), (ATTEMPT_HEADER, DECIMAL[attempt])], timeout
    t = p.timeout  # = attempt_timeout_s(t, None), inline
    return [*base, (ATTEMPT_HEADER, DECIMAL[attempt])], t.attempt_timeout_s if t.enabled else None


def attempt_ends(
    clock: Clock,
    metrics: ProxyMetrics,
    up: Upstream,
    p: Policy,
    ep: Endpoint,
    breaker: CircuitBreaker | None,
    resp: ClientResponse | None,
    exc: BaseException | None,
    t0: float,
    attempt: int,
) -> Outcome:
    """The try's Outcome from its answer (`resp`) or the client's exception (`exc`). It
    failed — for the breaker, the outlier detector and the retry loop — with no answer
    or a 5xx."""
    if up.balancer.counts_in_flight:
        up.balancer.on_end(ep.id)
    elapsed = clock.monotonic() - t0
    if resp is not None:
        result = Outcome(resp.status, resp.headers, resp, b"", attempt, ep.id)
        failed = resp.status >= 500
    else:
        assert exc is not None
        why = failure_reason(exc)
        result = Outcome.failure(
            why, f"{up.service} instance {ep.id}: {why.replace('-', ' ')} after {elapsed * 1000:.0f} ms", attempt, ep.id
        )
        failed = True
    if breaker is not None:
        (breaker.on_failure if failed else breaker.on_success)(elapsed)
    if p.outlier.enabled:
        up.outlier.on_result(ep.id, not failed, len(up.ids))
    metrics.count_attempt(up.service, ep.id, result.reason or str(result.status))
    if not failed:
        metrics.observe_latency(up.service, elapsed)
    return result
