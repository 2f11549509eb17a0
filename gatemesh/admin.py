"""A proxy's own endpoints, the same on the gateway and the sidecar.

    GET  /metrics                 Prometheus exposition
    GET  /-/events?since=SEQ      the event timeline
    GET  /-/upstreams             endpoints, breakers, ejections, budgets, in-flight
    GET  /-/policies              the policy table; GET|PUT|PATCH|DELETE /-/policies/{service}
    POST /-/reset                 forget learned state: breakers, ejections, budgets, fallback answers
    GET  /-/openapi.json          this API as an OpenAPI document (admin_openapi.py)

`/health` is the shell's (its readiness may wait on the app). Admin paths are told apart
from routed ones by `is_admin_path`, a plain byte check made before anything is awaited,
and are never routed. Nothing here awaits: every answer is built from memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from . import admin_openapi
from .http.messages import Request, Response, json_response
from .pipeline import ResilientCaller
from .policy import PolicyError, PolicyTable
from .reasons import Reason
from .refusal import refusal_response

ADMIN_PREFIX = b"/-/"
HEALTH_PATH = b"/health"
METRICS_PATH = b"/metrics"
_EXPOSITION = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
_READ = (b"GET", b"HEAD")
_POLICY_PATH = b"/-/policies/{service}"
_ALLOWED: dict[bytes, tuple[bytes, ...]] = {
    _POLICY_PATH: (b"GET", b"PUT", b"PATCH", b"DELETE"),
    b"/-/reset": (b"POST",),
}
# Extra endpoints a place adds (the gateway's /-/routes): path → answer.
Extra = Mapping[bytes, Callable[[Request], Response]]


def is_admin_path(path: bytes) -> bool:
    """Whether `path` is one of the proxy's own: checked first, so routing never sees one."""
    return path.startswith(ADMIN_PREFIX) or path == HEALTH_PATH or path == METRICS_PATH


class Admin:
    """The endpoints over `caller` (whose policies they read and write) and `also` (other
    callers of the same proxy, reset alongside: the sidecar's inbound side)."""

    def __init__(
        self,
        name: str,
        caller: ResilientCaller,
        *,
        policies_writable: bool,
        also: tuple[ResilientCaller, ...] = (),
        extra: Extra | None = None,
        extra_writable: frozenset[bytes] = frozenset(),  # extra paths that take PUT too (a sidecar's /-/mtls)
    ):
        self.name = name
        self.name_bytes = name.encode()
        self.caller = caller
        self.also = also
        self.policies_writable = policies_writable
        self.initial_policies = caller.policies.copy()  # what DELETE /-/policies/* goes back to
        self.extra = dict(extra or {})
        self.extra_writable = extra_writable

    def answer(self, req: Request) -> Response:
        path = req.path
        allowed = (
            (_READ + (b"PUT",) if path in self.extra_writable else _READ)
            if path in self.extra
            else _ALLOWED.get(_POLICY_PATH if path.startswith(b"/-/policies/") else path, _READ)
        )
        if req.method not in allowed:  # RFC 9110: a 405 names the methods that work (schemathesis found these)
            return Response(
                405,
                [(b"content-type", b"application/json"), (b"allow", b", ".join(allowed))],
                json.dumps(
                    {
                        "error": f"{req.method.decode('latin-1')} is not allowed on "
                        f"{path.decode('latin-1')}: use {', '.join(m.decode() for m in allowed)}",
                        "reason": Reason.BAD_REQUEST.value,
                    }
                ).encode(),
            )
        if path == METRICS_PATH:
            return Response(200, list(_EXPOSITION), self.caller.metrics.exposition())
        handler = self.extra.get(path)
        if handler is not None:
            return handler(req)
        if path == b"/-/events":
            return self._events(req)
        if path == b"/-/upstreams":
            return json_response(200, {"proxy": self.name, "upstreams": self.upstream_state()})
        if path == b"/-/policies":
            return json_response(200, self.caller.policies.to_dict())
        if path.startswith(b"/-/policies/"):
            return self._policy(req, path[len(b"/-/policies/") :].decode("latin-1"))
        if path == b"/-/reset":
            return self._reset(req)
        if path == b"/-/openapi.json":  # this API described (admin_openapi.py)
            return json_response(200, admin_openapi.document())
        return refusal_response(Reason.NO_ROUTE, f"no admin endpoint at {path.decode('latin-1')}", self.name_bytes)

    def _events(self, req: Request) -> Response:
        given = parse_qs(req.query.decode("latin-1"), keep_blank_values=True).get("since", ["0"])
        try:
            if len(given) != 1:  # which one would we take? (an empty or repeated since: schemathesis)
                raise ValueError(given)
            since = int(given[0])
        except ValueError:
            return refusal_response(
                Reason.BAD_REQUEST, "'since' must be one integer event sequence number", self.name_bytes
            )
        events = self.caller.events
        return json_response(200, {"proxy": self.name, "last_seq": events.last_seq, "events": events.since(since)})

    def _reset(self, req: Request) -> Response:
        if req.method != b"POST":
            return json_response(
                405, {"error": "use POST /-/reset to clear breakers, ejections, budgets and fallback answers"}
            )
        services = sorted({s for c in (self.caller, *self.also) for s in c.reset()})
        return json_response(200, {"proxy": self.name, "reset": services})

    def _policy(self, req: Request, service: str) -> Response:
        table = self.caller.policies
        if req.method == b"GET":
            return json_response(200, {"service": service, "policy": table.get(service).to_dict()})
        if req.method not in (b"PUT", b"PATCH", b"DELETE"):
            return json_response(405, {"error": "use GET to read a policy, PUT to change it, DELETE to reset it"})
        if not self.policies_writable:
            return json_response(
                405,
                {
                    "error": "this sidecar's policies come from the control plane: "
                    "PUT /v1/policies/{service} there (or `gatemesh policy set --at mesh`)"
                },
            )
        new_table = table.copy()
        if req.method == b"DELETE":
            if service == "*":
                new_table.set("*", self.initial_policies.default)
            else:
                new_table.remove(service)
            return self._install(new_table, service)
        try:
            overrides = json.loads(req.body or b"{}")
            if not isinstance(overrides, dict):
                raise PolicyError('the policy must be a JSON object such as {"breaker": {"enabled": false}}')
            new_table.set(service, table.get(service).merged(overrides))
        except json.JSONDecodeError as exc:
            return refusal_response(Reason.BAD_REQUEST, f"the body is not valid JSON: {exc}", self.name_bytes)
        except (PolicyError, ValueError, TypeError) as exc:
            return refusal_response(Reason.BAD_REQUEST, str(exc), self.name_bytes)
        return self._install(new_table, service)

    def _install(self, table: PolicyTable, service: str) -> Response:
        self.caller.set_policies(table)
        return json_response(200, {"service": service, "policy": table.get(service).to_dict()})

    def upstream_state(self) -> dict:
        out = {}
        for name, up in sorted(self.caller.upstreams.items()):
            out[name] = {
                "endpoints": {i: f"{e.host}:{e.port}" for i, e in up.endpoints.items()},
                "breaker": up.breaker.state.value,
                "instance_breakers": {i: b.state.value for i, b in up.instance_breakers.items()},
                "ejected": [i for i in up.ids if up.outlier.is_ejected(i)],
                "ejected_s_left": {i: round(s, 1) for i, s in up.outlier.ejected().items()},
                "panic": up.panic.state(up.policy.outlier.panic_threshold_percent),
                "budget": up.budget.snapshot(),
                "in_flight": up.limiter.in_flight,
            }
        return out
