"""Which service identity may call which service: checked by the callee's sidecar.

The caller is who its mTLS client certificate says (``spiffe://gatemesh.local/service/
storefront`` → ``storefront``); a plain connection (permissive mode) has no identity.
Set at the control plane (``PUT /v1/authz``, the admin token), pushed in the snapshot::

    {"default": "allow",                       # or "deny": a service with no rule refuses all
     "rules": [{"to": "pricing", "from": ["storefront", "gateway"],
                "methods": ["GET"], "path_prefix": "/prices"}]}

A service some rule names as ``to`` takes only the calls a rule of its allows (caller in
``from``, method in ``methods`` if given, path under ``path_prefix`` if given); any other
service follows ``default``. A refusal is 403 ``not-authorized`` naming the caller, and an
``authz-denied`` event in the sidecar's timeline (the audit record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gatemesh.security.ca import TRUST_DOMAIN

SPIFFE_PREFIX = f"spiffe://{TRUST_DOMAIN}/service/"
DEFAULTS = ("allow", "deny")


@dataclass(frozen=True)
class Rule:
    to: str
    callers: frozenset[str]
    methods: frozenset[str] = frozenset()  # empty: every method
    path_prefix: str = "/"  # "/": every path

    def allows(self, caller: str | None, method: str, path: str) -> bool:
        return (
            caller in self.callers
            and (not self.methods or method in self.methods)
            and (
                path == self.path_prefix
                or path.startswith(self.path_prefix.rstrip("/") + "/")
                or self.path_prefix == "/"
            )
        )


@dataclass(frozen=True)
class AuthzPolicy:
    # Default allow, as Istio without an AuthorizationPolicy: switching to deny is a decision.
    default: str = "allow"
    rules: tuple[Rule, ...] = ()
    _by_service: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.default not in DEFAULTS:
            raise ValueError(f"authz.default must be allow or deny, got {self.default!r}.")
        by: dict[str, list[Rule]] = {}
        for r in self.rules:
            by.setdefault(r.to, []).append(r)
        object.__setattr__(self, "_by_service", {k: tuple(v) for k, v in by.items()})

    @classmethod
    def from_dict(cls, d: Any) -> AuthzPolicy:
        if not isinstance(d, Mapping):
            raise ValueError(f"authz must be an object, got {type(d).__name__}.")
        unknown = sorted(set(d) - {"default", "rules"})
        if unknown:
            raise ValueError(f"authz has unknown field(s) {', '.join(unknown)}; known: default, rules.")
        rules = d.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("authz.rules must be a list of {to, from, methods, path_prefix}.")
        return cls(d.get("default", "allow"), tuple(_rule(i, r) for i, r in enumerate(rules)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": self.default,
            "rules": [
                {"to": r.to, "from": sorted(r.callers), "methods": sorted(r.methods), "path_prefix": r.path_prefix}
                for r in self.rules
            ],
        }

    def decide(self, identity: str | None, service: str, method: str, path: str) -> str | None:
        """None when allowed; else the sentence of the refusal, naming the caller."""
        caller = identity[len(SPIFFE_PREFIX) :] if identity and identity.startswith(SPIFFE_PREFIX) else None
        rules = self._by_service.get(service)
        if rules is None:
            allowed = self.default == "allow"
        else:
            allowed = any(r.allows(caller, method, path) for r in rules)
        if allowed:
            return None
        who = identity or "an unauthenticated caller (a plain connection, no client certificate)"
        return f"{who} may not call {service} {method} {path} (authorization policy)"


def _rule(i: int, r: Any) -> Rule:
    where = f"authz.rules[{i}]"
    if not isinstance(r, Mapping):
        raise ValueError(f"{where} must be an object.")
    unknown = sorted(set(r) - {"to", "from", "methods", "path_prefix"})
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)}; known: to, from, methods, path_prefix.")
    to, callers = r.get("to"), r.get("from")
    if not isinstance(to, str) or not to:
        raise ValueError(f"{where}.to must name a service.")
    if not isinstance(callers, list) or not all(isinstance(c, str) and c for c in callers):
        raise ValueError(f"{where}.from must be a list of service names (the callers' identities).")
    methods = r.get("methods", [])
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise ValueError(f"{where}.methods must be a list of HTTP methods.")
    prefix = r.get("path_prefix", "/")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ValueError(f"{where}.path_prefix must start with '/'.")
    return Rule(to, frozenset(callers), frozenset(m.upper() for m in methods), prefix)
