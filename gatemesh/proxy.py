"""What the gateway and the sidecar share around the resilient call: forwarding a request
and its answer with the proxy's headers, fallbacks, and the admin endpoints.

Admin paths live under `/-/` (plus `/health` and `/metrics`) and are never routed.
"""
from __future__ import annotations

import json
from typing import Callable
from urllib.parse import parse_qs

from .http.messages import FRAMING, Headers, Request, Response, connection_options, json_response, strip_hop_by_hop
from .patterns.deadline import DEADLINE_HEADER, Deadline
from .pipeline import CallResult, ResilientCaller
from .policy import PolicyError
from .refusal import Refusal, refusal_response, to_response

_DEADLINE_NAME = DEADLINE_HEADER.encode() if isinstance(DEADLINE_HEADER, str) else DEADLINE_HEADER
# Headers a hop rewrites instead of copying: framing and hop-by-hop ones, and its own.
_REWRITTEN_REQUEST = FRAMING | {b"x-forwarded-for", b"via"}
_REWRITTEN_RESPONSE = FRAMING | {b"x-gatemesh-attempts", b"x-gatemesh-proxy"}


def service_from_host(req: Request) -> str | None:
    """The target service of an east-west call: the Host header without its port."""
    host = req.header(b"host")
    if not host:
        return None
    return host.split(b":", 1)[0].decode("latin-1").lower()


class Proxy:
    def __init__(self, name: str, caller: ResilientCaller, *, policies_writable: bool,
                 health: Callable[[], dict] | None = None):
        self.name = name
        self.name_bytes = name.encode()
        self.caller = caller
        self.policies_writable = policies_writable
        self.initial_policies = caller.policies.copy()   # what DELETE /-/policies/* goes back to
        self._health = health or (lambda: {})
        self._via = b"1.1 " + name.replace(":", "-").encode()

    # --- forwarding ------------------------------------------------------------------
    def incoming_deadline(self, req: Request) -> Deadline | None:
        """The caller's deadline, if it sent one; a malformed header is the caller's bug → Refusal 400."""
        raw = req.header(_DEADLINE_NAME)
        if raw is None:
            return None
        try:
            return Deadline.from_header(self.caller.clock, raw, None)
        except ValueError as exc:
            raise Refusal("bad-request", str(exc)) from None

    def outgoing_headers(self, req: Request) -> Headers:
        """The request's headers as they go upstream: hop-by-hop ones (and those its
        `Connection` lists) dropped, this hop appended to X-Forwarded-For and Via.
        One pass over the headers: this runs on every request."""
        out = []
        fwd = via = listed = None
        for n, v in req.headers:
            if n in _REWRITTEN_REQUEST:
                if n == b"x-forwarded-for":
                    fwd = v if fwd is None else fwd + b", " + v
                elif n == b"via":
                    via = v if via is None else via + b", " + v
                elif n == b"connection":
                    listed = connection_options(v) if listed is None else listed | connection_options(v)
                continue
            out.append((n, v))
        if listed:
            out = [(n, v) for n, v in out if n not in listed]
        peer = req.peer.encode()
        out.append((b"x-forwarded-for", fwd + b", " + peer if fwd else peer))
        out.append((b"via", via + b", " + self._via if via else self._via))
        return out

    async def forward(self, req: Request, service: str, target: bytes) -> Response:
        upstream = self.caller.upstreams.get(service)
        try:
            deadline = self.incoming_deadline(req)
            result = await self.caller.call(service, req.method, target, self.outgoing_headers(req), req.body,
                                            deadline, req.header(b"idempotency-key") is not None)
        except Refusal as refusal:
            self.caller.metrics.count_request(service, refusal.reason)
            cached = self._fallback(service, req, refusal.reason)
            return cached if cached is not None else to_response(refusal, self.name_bytes)
        if result.status >= 500 and req.method == b"GET":
            cached = self._fallback(service, req, result.note or "upstream-error")
            if cached is not None:
                if result.response is not None:
                    result.response.release()
                return cached
        self.caller.metrics.count_request(service, "ok" if result.status < 500 else f"{result.status // 100}xx")
        upstream = upstream or self.caller.upstreams.get(service)
        if upstream is not None and upstream.policy.fallback.enabled and req.method == b"GET" and result.status == 200:
            self._remember(upstream, req, result)
        return self.response_from(result)

    def response_from(self, result: CallResult) -> Response:
        """The upstream's answer as this hop sends it on: hop-by-hop headers dropped, this
        hop added to X-Gatemesh-Attempts, and the body whole or streamed as it arrives."""
        out = []
        upstream_chain = length = listed = None
        for n, v in result.headers:
            if n in _REWRITTEN_RESPONSE:
                if n == b"x-gatemesh-attempts":
                    upstream_chain = upstream_chain or v
                elif n == b"content-length":
                    length = v
                elif n == b"connection":
                    listed = connection_options(v) if listed is None else listed | connection_options(v)
                continue
            out.append((n, v))
        if listed:
            out = [(n, v) for n, v in out if n not in listed]
        chain = b"%s=%d" % (self.name_bytes, result.attempts)
        out.append((b"x-gatemesh-attempts", chain + b", " + upstream_chain if upstream_chain else chain))
        out.append((b"x-gatemesh-proxy", self.name_bytes))
        if result.note is not None:
            out.append((b"x-gatemesh-reason", result.note.encode()))
        resp = result.response
        if resp is None:
            return Response(result.status, out, result.body)
        # The declared length frames a stream, and is passed on for HEAD and 304 answers.
        content_length = int(length) if length is not None and length.isdigit() else None
        if resp.complete:
            return Response(result.status, out, resp.body, content_length=content_length)
        return Response(result.status, out, stream=resp.iter_body(), content_length=content_length)

    def _remember(self, upstream, req: Request, result: CallResult) -> None:
        resp = result.response
        if resp is not None and resp.complete:
            upstream.cache.store((req.method, req.target), resp.status, strip_hop_by_hop(resp.headers), resp.body)

    def _fallback(self, service: str, req: Request, cause: str) -> Response | None:
        upstream = self.caller.upstreams.get(service)
        if upstream is None or req.method != b"GET":
            return None
        chosen = upstream.cache.choose((req.method, req.target))  # None whenever fallback is off
        if chosen is None:
            return None
        self.caller.metrics.fallbacks.labels(self.name, service).inc()
        headers = [(n, v) for n, v in chosen.headers if n not in (b"x-gatemesh-reason", b"x-gatemesh-proxy")]
        headers += [(b"x-gatemesh-reason", b"fallback"), (b"x-gatemesh-fallback-cause", cause.encode()),
                    (b"x-gatemesh-proxy", self.name_bytes)]
        return Response(chosen.status, headers, chosen.body)

    # --- admin -----------------------------------------------------------------------
    async def admin(self, req: Request) -> Response | None:
        """Answer the proxy's own endpoints; None when `req` is not one of them."""
        path = req.path
        if path == b"/health":
            return json_response(200, {"status": "ok", "proxy": self.name, **self._health()})
        if path == b"/metrics":
            return Response(200, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")],
                            self.caller.metrics.exposition())
        if not path.startswith(b"/-/"):
            return None
        query = parse_qs(req.query.decode("latin-1"))
        if path == b"/-/events":
            try:
                since = int(query.get("since", ["0"])[0])
            except ValueError:
                return refusal_response("bad-request", "'since' must be an integer event sequence number", self.name_bytes)
            return json_response(200, {"proxy": self.name, "last_seq": self.caller.events.last_seq,
                                       "events": self.caller.events.since(since)})
        if path == b"/-/upstreams":
            return json_response(200, {"proxy": self.name, "upstreams": self.upstream_state()})
        if path == b"/-/policies":
            return json_response(200, self.caller.policies.to_dict())
        if path.startswith(b"/-/policies/"):
            return self._policy_admin(req, path[len(b"/-/policies/"):].decode("latin-1"))
        return refusal_response("no-route", f"no admin endpoint at {path.decode('latin-1')}", self.name_bytes)

    def _policy_admin(self, req: Request, service: str) -> Response:
        table = self.caller.policies
        if req.method == b"GET":
            return json_response(200, {"service": service, "policy": table.get(service).to_dict()})
        if req.method not in (b"PUT", b"PATCH", b"DELETE"):
            return json_response(405, {"error": "use GET to read a policy, PUT to change it, DELETE to reset it"})
        if not self.policies_writable:
            return json_response(405, {"error": "this sidecar's policies come from the control plane: "
                                                "PUT /v1/policies/{service} there (or `gatemesh policy set --at mesh`)"})
        if req.method == b"DELETE":
            new_table = table.copy()
            if service == "*":
                new_table.set("*", self.initial_policies.default)
            else:
                new_table.remove(service)
            self.caller.set_policies(new_table)
            return json_response(200, {"service": service, "policy": new_table.get(service).to_dict()})
        try:
            overrides = json.loads(req.body or b"{}")
            if not isinstance(overrides, dict):
                raise PolicyError("the policy must be a JSON object such as {\"breaker\": {\"enabled\": false}}")
            policy = table.get(service).merged(overrides)
        except json.JSONDecodeError as exc:
            return refusal_response("bad-request", f"the body is not valid JSON: {exc}", self.name_bytes)
        except (PolicyError, ValueError, TypeError) as exc:
            return refusal_response("bad-request", str(exc), self.name_bytes)
        new_table = table.copy()
        new_table.set(service, policy)
        self.caller.set_policies(new_table)
        return json_response(200, {"service": service, "policy": policy.to_dict()})

    def upstream_state(self) -> dict:
        out = {}
        for name, up in sorted(self.caller.upstreams.items()):
            out[name] = {
                "endpoints": {i: f"{e.host}:{e.port}" for i, e in up.endpoints.items()},
                "breaker": up.breaker.state.value,
                "instance_breakers": {i: b.state.value for i, b in up.instance_breakers.items()},
                "ejected": [i for i in up.ids if up.outlier.is_ejected(i)],
                "panic": up.panic.state(up.policy.outlier.panic_threshold_percent),
                "budget": up.budget.snapshot(),
                "in_flight": up.limiter.in_flight,
            }
        return out
