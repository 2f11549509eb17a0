"""The spans one proxy records, hung on the layers of the resilient call:

  server   one per request per proxy (`wrap`, around the shell's handler): the caller's
           traceparent continued (or a new trace), the answer's status and reason, and
           the trace id sent back to the client in X-Gatemesh-Trace-Id
  client   one per attempt (`attempt_start` / `attempt_end`, around the one await in the
           retry loop): attempt number, instance, attempt timeout, deadline left, backoff
           slept, the breakers and ejections that shaped the pick, then outcome + reason;
           its id travels upstream in that attempt's traceparent
  refusal  one per call the logical layer refused (`refused`): circuit-open, overloaded,
           deadline-exceeded, retry-budget-exhausted, ... with its reason
  events   breaker transitions, ejections, budget refusals during the request (`event`)

The request's server span travels in a context variable, so a composed page's parallel
calls (asyncio.gather copies the context) hang under it too. An unsampled request opens
no child span: its attempts only pass the trace context on (flags 00).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable
from random import getrandbits
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from gatemesh.http.messages import Headers, Request, Response, json_response
from gatemesh.outcome import NO_ANSWER
from gatemesh.patterns.deadline import DEADLINE_HEADER_BYTES
from gatemesh.patterns.validate import ConfigError, check_number

from .config import TRACING_PATH, TracingConfig
from .context import TRACEPARENT, TRACESTATE, format_traceparent, parse_traceparent, usable_tracestate, with_header
from .current import CURRENT

if TYPE_CHECKING:
    from gatemesh.discovery import Endpoint
    from gatemesh.outcome import Outcome
    from gatemesh.patterns.breaker import CircuitBreaker
    from gatemesh.patterns.deadline import Deadline
    from gatemesh.refusal import Refusal
    from gatemesh.upstream import Upstream

TRACE_ID_HEADER = b"x-gatemesh-trace-id"
_ADMIN_PREFIX = b"/-/"
_OWN_PATHS = frozenset({b"/health", b"/metrics"})
Handle = Callable[[Request], Awaitable[Response]]


class _NotSampled:
    trace_flags = TraceFlags(0)


class Unsampled:
    """A request that is not sampled: its trace context is passed on (flags 00), nothing is
    recorded, and the OpenTelemetry SDK is not called at all (a root span it would drop
    costs more than the rest of the proxy's work on the request)."""

    __slots__ = ("trace_id", "span_id")
    trace_flags = _NotSampled.trace_flags

    def __init__(self, trace_id: int, span_id: int):
        self.trace_id = trace_id
        self.span_id = span_id

    def get_span_context(self) -> Unsampled:
        return self

    def is_recording(self) -> bool:
        return False

    def end(self) -> None:
        pass


def _traceparent_of(span: Span) -> bytes:
    sc = span.get_span_context()
    return format_traceparent(sc.trace_id, sc.span_id, sc.trace_flags.sampled)


class Tracer:
    """One proxy's spans, over an OpenTelemetry SDK tracer (export.py builds it)."""

    def __init__(self, proxy: str, cfg: TracingConfig, otel_tracer: Any, sampler: Any, counts: Any, provider: Any):
        self.proxy = proxy
        self.cfg = cfg
        self._otel = otel_tracer
        self.sampler = sampler
        self.counts = counts
        self.provider = provider
        self.malformed_traceparent = 0  # requests whose traceparent broke the grammar: a new trace each

    # --- server span -----------------------------------------------------------------
    def wrap(self, handle: Handle, *, admin_api: bool = True) -> Handle:
        """`handle` with a server span around every request but the proxy's own paths
        (/-/tracing is served here only on a listener that has the ``admin_api``)."""
        start, end = self.server_start, self.server_end
        tracing_path = TRACING_PATH if admin_api else None

        async def traced(req: Request) -> Response:
            path = req.path
            if path.startswith(_ADMIN_PREFIX) or path in _OWN_PATHS:
                return self.admin(req) if path == tracing_path else await handle(req)
            span = start(req)
            token = CURRENT.set(span)
            try:
                resp = await handle(req)
            except BaseException as exc:
                if span.is_recording():
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                span.end()
                raise
            finally:
                CURRENT.reset(token)
            end(span, resp)
            return resp

        return traced

    def server_start(self, req: Request) -> Span:
        raw = req.header(TRACEPARENT)
        parent = parse_traceparent(raw)
        ctx = None
        if parent is None:
            if raw is not None:
                self.malformed_traceparent += 1
            if not self.sampler.sample_root():
                req.trace = unsampled = Unsampled(getrandbits(128) or 1, getrandbits(64) or 1)
                return unsampled  # type: ignore[return-value]
        elif not parent.sampled:  # the caller's decision is kept
            req.trace = unsampled = Unsampled(parent.trace_id, getrandbits(64) or 1)
            return unsampled  # type: ignore[return-value]
        else:
            state = usable_tracestate(req.header(TRACESTATE))
            remote = SpanContext(
                parent.trace_id,
                parent.span_id,
                is_remote=True,
                trace_flags=TraceFlags(parent.flags),
                trace_state=TraceState.from_header([state.decode("latin-1")]) if state else None,
            )
            ctx = set_span_in_context(NonRecordingSpan(remote))
        method = req.method.decode("latin-1")
        span: Span = self._otel.start_span(f"{method} {req.path.decode('latin-1')}", ctx, SpanKind.SERVER)
        req.trace = span
        if span.is_recording():
            attrs: dict[str, Any] = {
                "http.request.method": method,
                "url.path": req.path.decode("latin-1"),
                "url.scheme": "http",
                "network.protocol.version": "1.1",
                "client.address": req.peer,
                "gatemesh.proxy": self.proxy,
            }
            if req.query:
                attrs["url.query"] = req.query.decode("latin-1")
            agent = req.header(b"user-agent")
            if agent is not None:
                attrs["user_agent.original"] = agent.decode("latin-1")
            deadline = req.header(DEADLINE_HEADER_BYTES)
            if deadline is not None:  # the deadline the caller passed down, as it arrived
                attrs["gatemesh.deadline.received_ms"] = deadline.decode("latin-1")
            if raw is not None and parent is None:
                attrs["gatemesh.traceparent.malformed"] = raw.decode("latin-1")[:128]
            span.set_attributes(attrs)
        return span

    def server_end(self, span: Span, resp: Response) -> None:
        resp.headers = with_header(list(resp.headers), TRACE_ID_HEADER, b"%032x" % span.get_span_context().trace_id)
        if span.is_recording():
            span.set_attribute("http.response.status_code", resp.status)
            reason = next((v for n, v in resp.headers if n == b"x-gatemesh-reason"), None)
            if reason is not None:
                span.set_attribute("gatemesh.reason", reason.decode("latin-1"))
            if resp.status >= 500:
                span.set_attribute("error.type", reason.decode("latin-1") if reason else str(resp.status))
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    # --- client span per attempt -----------------------------------------------------
    def attempt_start(
        self,
        up: Upstream,
        ep: Endpoint,
        breaker: CircuitBreaker | None,
        method: bytes,
        target: bytes,
        out: Headers,
        attempt: int,
        timeout_s: float | None,
        deadline: Deadline | None,
        backoff_s: float,
        tried: set[str],
    ) -> Span | None:
        """The attempt's span (None when the request is not sampled), its context put in
        `out`'s traceparent; an unsampled request's context is passed on as it is."""
        parent = CURRENT.get()
        if parent is None:
            return None
        if not parent.is_recording():
            with_header(out, TRACEPARENT, _traceparent_of(parent))
            return None
        name = f"{method.decode('latin-1')} {up.service} #{attempt}"
        span: Span = self._otel.start_span(name, set_span_in_context(parent), SpanKind.CLIENT)
        with_header(out, TRACEPARENT, _traceparent_of(span))
        attrs: dict[str, Any] = {
            "http.request.method": method.decode("latin-1"),
            "url.full": f"http://{ep.host}:{ep.port}{target.decode('latin-1')}",
            "server.address": ep.host,
            "server.port": ep.port,
            "peer.service": up.service,
            "http.request.resend_count": attempt - 1,
            "gatemesh.attempt": attempt,
            "gatemesh.instance": ep.id,
            "gatemesh.backoff_ms": round(backoff_s * 1000, 1),
            "gatemesh.breaker.state": breaker.state.value if breaker is not None else "disabled",
            "gatemesh.service_breaker.state": up.breaker.state.value if up.policy.breaker.enabled else "disabled",
        }
        if timeout_s is not None:
            attrs["gatemesh.attempt_timeout_ms"] = round(timeout_s * 1000, 1)
        if deadline is not None:
            attrs["gatemesh.deadline.remaining_ms"] = round(deadline.remaining_s() * 1000, 1)
        skipped = sorted(i for i in tried if i != ep.id)
        if skipped:
            attrs["gatemesh.tried"] = skipped
        if up.policy.outlier.enabled:
            ejected = sorted(up.outlier.ejected())
            if ejected:
                attrs["gatemesh.ejected"] = ejected
        unclosed = sorted(i for i, b in up.instance_breakers.items() if b.state.value != "closed" and i != ep.id)
        if unclosed:
            attrs["gatemesh.breakers_not_closed"] = unclosed
        span.set_attributes(attrs)
        return span

    @staticmethod
    def attempt_end(span: Span, result: Outcome) -> None:
        failed = not result.answered or result.status >= 500
        if result.answered:
            span.set_attribute("http.response.status_code", result.status)
        span.set_attribute("gatemesh.outcome", "error" if failed else "ok")
        if result.reason is not None:
            span.set_attribute("gatemesh.reason", str(result.reason))
        if failed:
            why = str(result.reason) if result.reason is not None else str(result.status)
            span.set_attribute("error.type", why)
            span.set_status(Status(StatusCode.ERROR, result.message or why))
        span.end()

    @staticmethod
    def attempt_cancelled(span: Span) -> None:
        span.set_attribute("gatemesh.outcome", "cancelled")
        span.end()

    # --- refusals and events ---------------------------------------------------------
    def refused(self, service: str, refusal: Refusal, fallback: bool) -> None:
        """A call the logical layer refused: a span of its own, no attempt under it. A
        failure the last attempt itself ended with (a timeout, a reset) is that attempt's
        span's, not a refusal."""
        parent = CURRENT.get()
        if parent is None or not parent.is_recording() or refusal.reason in NO_ANSWER:
            return
        reason = str(refusal.reason)
        span = self._otel.start_span(f"refused {service}: {reason}", set_span_in_context(parent), SpanKind.INTERNAL)
        span.set_attributes(
            {
                "peer.service": service,
                "gatemesh.refusal": True,
                "gatemesh.reason": reason,
                "gatemesh.fallback": fallback,
                "error.type": reason,
            }
        )
        span.set_status(Status(StatusCode.ERROR, refusal.message))
        span.end()

    # --- runtime control -------------------------------------------------------------
    def admin(self, req: Request) -> Response:
        """GET /-/tracing (state and counts) and PUT /-/tracing {"ratio": r}."""
        if req.method == b"PUT":
            try:
                body = json.loads(req.body or b"{}")
                ratio = body["ratio"] if isinstance(body, dict) else None
                check_number("tracing.ratio", ratio, 0, 1)
            except (ValueError, KeyError) as exc:
                msg = str(exc) if isinstance(exc, ConfigError) else 'the body must be JSON like {"ratio": 0.01}'
                return json_response(
                    400, {"error": msg, "reason": "bad-request"}, [(b"x-gatemesh-reason", b"bad-request")]
                )
            self.sampler.set(float(ratio))  # type: ignore[arg-type]  # checked just above
        elif req.method not in (b"GET", b"HEAD"):
            return json_response(
                405, {"error": "use GET or PUT on /-/tracing", "reason": "bad-request"}, [(b"allow", b"GET, HEAD, PUT")]
            )
        return json_response(200, self.state())

    def shutdown(self) -> None:
        self.provider.shutdown()

    def close(self, limit_s: float) -> bool:
        """Export what is left, waiting at most `limit_s`: on a daemon thread, so a dead or
        slow backend can hold neither the event loop nor the process's exit. True if done."""
        flush = threading.Thread(target=self.provider.shutdown, name="gatemesh-trace-flush", daemon=True)
        flush.start()
        flush.join(limit_s)
        return not flush.is_alive()

    def state(self) -> dict[str, Any]:
        return {
            "proxy": self.proxy,
            "enabled": True,
            "endpoint": self.cfg.endpoint,
            "ratio": self.sampler.ratio,
            "malformed_traceparent": self.malformed_traceparent,
            "spans": self.counts.to_dict(),
        }
