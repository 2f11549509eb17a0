"""API management: API keys and a token-bucket rate limit per key.

Shared by the gateway (edge) and the ``--expose`` sidecar (sidecar-gateway topology).
``ApiManager.check`` runs on the request hot path: O(1) dictionary lookups, no locks
(one event loop), no allocation on the allowed path (it returns the shared ``ALLOWED``).

Config shape (JSON/YAML, parsed with ``ApiMgmtConfig.from_dict``)::

    {"enabled": true,                                   # default true
     "keys": {"demo-key": {"routes": ["*"]},            # "*" = every route
              "catalog-only-key": {"routes": ["catalog"]}},
     "rate_limit": {"enabled": true, "rate_per_s": 100, "burst": 200}}

Refusals, in the order they are checked: no key → 401 ``missing-api-key``; unknown key →
401 ``invalid-api-key``; key not allowed on the route → 403 ``forbidden``; the key's
bucket is empty → 429 ``rate-limited`` with ``retry_after_s``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .clock import Clock
from .reasons import Reason

ALL_ROUTES = "*"
DEFAULT_RATE_PER_S = 100.0  # sustained requests per second per key
DEFAULT_BURST = 200  # bucket size: requests a key may send at once after idling


@dataclass(frozen=True)
class RateLimitConfig:
    enabled: bool = True  # False: keys are still checked, but never throttled
    rate_per_s: float = DEFAULT_RATE_PER_S  # refill rate of each key's bucket, tokens/s
    burst: int = DEFAULT_BURST  # capacity of each key's bucket, tokens

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError("rate_limit.enabled must be true or false.")
        if (
            isinstance(self.rate_per_s, bool)
            or not isinstance(self.rate_per_s, (int, float))
            or not math.isfinite(self.rate_per_s)
            or self.rate_per_s <= 0
        ):
            raise ValueError(
                f"rate_limit.rate_per_s must be a positive number of requests per second, got {self.rate_per_s!r}."
            )
        burst: object = self.burst
        if isinstance(burst, float) and burst.is_integer():  # JSON's 5.0 is the integer 5
            object.__setattr__(self, "burst", int(burst))
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError(f"rate_limit.burst must be a whole number of requests >= 1, got {self.burst!r}.")
        object.__setattr__(self, "rate_per_s", float(self.rate_per_s))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RateLimitConfig:
        _require_mapping(d, "rate_limit")
        _reject_unknown(d, {"enabled", "rate_per_s", "burst"}, "rate_limit")
        return cls(**d)

    def to_dict(self) -> dict:
        return {"enabled": self.enabled, "rate_per_s": self.rate_per_s, "burst": self.burst}


@dataclass(frozen=True)
class ApiKey:
    key: str  # the secret the client sends in X-Api-Key
    routes: frozenset[str]  # route names this key may call; "*" = all

    def allows(self, route: str) -> bool:
        return ALL_ROUTES in self.routes or route in self.routes


@dataclass(frozen=True)
class ApiMgmtConfig:
    enabled: bool = True  # False: every request is allowed, keys and limits are ignored
    keys: Mapping[str, ApiKey] = field(default_factory=lambda: MappingProxyType({}))
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ValueError("apimgmt.enabled must be true or false.")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> ApiMgmtConfig:
        """Parse the JSON/YAML shape; raise ValueError with a sentence on bad input."""
        if d is None:
            d = {}
        _require_mapping(d, "apimgmt")
        _reject_unknown(d, {"enabled", "keys", "rate_limit"}, "apimgmt")
        raw_keys = d.get("keys", {})
        _require_mapping(raw_keys, "apimgmt.keys")
        keys = {}
        for name, spec in raw_keys.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"apimgmt.keys: every API key must be a non-empty string, got {name!r}.")
            where = f"apimgmt.keys[{name!r}]"
            _require_mapping(spec, where)
            _reject_unknown(spec, {"routes"}, where)
            routes = spec.get("routes")
            if not isinstance(routes, (list, tuple)) or not routes or not all(isinstance(r, str) and r for r in routes):
                raise ValueError(
                    f"{where}.routes must be a non-empty list of route names "
                    f'(use ["*"] for every route), got {routes!r}.'
                )
            keys[name] = ApiKey(name, frozenset(routes))
        rate_limit = RateLimitConfig.from_dict(d.get("rate_limit", {}))
        return cls(enabled=d.get("enabled", True), keys=keys, rate_limit=rate_limit)

    def to_dict(self) -> dict:
        return {
            "enabled": self.enabled,
            "keys": {k.key: {"routes": sorted(k.routes)} for k in self.keys.values()},
            "rate_limit": self.rate_limit.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    status: int  # HTTP status to answer with when refused (200 when allowed)
    reason: Reason | None  # X-Gatemesh-Reason when refused (None when allowed)
    retry_after_s: float | None  # for 429: when the key's bucket holds a token again


ALLOWED = Verdict(True, 200, None, None)
MISSING_API_KEY = Verdict(False, 401, Reason.MISSING_API_KEY, None)
INVALID_API_KEY = Verdict(False, 401, Reason.INVALID_API_KEY, None)
FORBIDDEN = Verdict(False, 403, Reason.FORBIDDEN, None)


class _Bucket:
    __slots__ = ("tokens", "stamp")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class ApiManager:
    """Checks one request against the current config; ``reconfigure`` swaps it at runtime."""

    def __init__(self, config: ApiMgmtConfig, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self.reconfigure(config)

    @property
    def config(self) -> ApiMgmtConfig:
        return self._config

    def reconfigure(self, config: ApiMgmtConfig) -> None:
        """Swap the config. Buckets of keys that stay keep their level (capped at the new burst)."""
        now = self._clock.monotonic()
        burst = float(config.rate_limit.burst)
        buckets = {}
        for name in config.keys:
            old = self._buckets.get(name)
            buckets[name] = _Bucket(min(old.tokens, burst), old.stamp) if old else _Bucket(burst, now)
        self._config = config
        self._enabled = config.enabled
        self.enabled = config.enabled  # read by the proxies on every request: off, they skip the check
        self._keys = config.keys
        self._limit = config.rate_limit.enabled
        self._rate = config.rate_limit.rate_per_s
        self._burst = burst
        self._buckets = buckets

    def check(self, api_key: str | None, route: str) -> Verdict:
        if not self._enabled:
            return ALLOWED
        if not api_key:
            return MISSING_API_KEY
        key = self._keys.get(api_key)
        if key is None:
            return INVALID_API_KEY
        if not key.allows(route):
            return FORBIDDEN
        if not self._limit:
            return ALLOWED
        bucket = self._buckets[api_key]
        now = self._clock.monotonic()
        tokens = bucket.tokens + (now - bucket.stamp) * self._rate
        if tokens > self._burst:
            tokens = self._burst
        bucket.stamp = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return ALLOWED
        bucket.tokens = tokens
        return Verdict(False, 429, Reason.RATE_LIMITED, (1.0 - tokens) / self._rate)


def _require_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be an object (a mapping), got {type(value).__name__}.")


def _reject_unknown(d: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in d if k not in known)
    if unknown:
        raise ValueError(
            f"{where} has unknown field(s) {', '.join(unknown)}; known fields are {', '.join(sorted(known))}."
        )
