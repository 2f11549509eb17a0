"""Service registry: instances that stay registered while they heartbeat within their TTL.

A plain class with an injected clock (anything with ``.monotonic()``), so the TTL logic is
tested without a server or real time. Every method that changes what a watcher would see
returns a ``Change`` (or a list of them); renewing a TTL changes nothing a watcher sees
and returns None. The store turns changes into index bumps and events.

Input validation lives here too (``check_id``, ``parse_address``, ``check_ttl_s``,
``check_meta``): every check raises ValueError with a sentence the API returns as a 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gatemesh.address import split_address
from gatemesh.clock import Clock

DEFAULT_TTL_S = 3.0  # how long an instance stays without a heartbeat (contracts: --ttl-s 3)
MAX_TTL_S = 300.0  # longer TTLs would keep dead instances visible for too long
MAX_META_ENTRIES = 32
MAX_META_CHARS = 256
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# host:port with a hostname or IPv4 (letters, digits, '.', '_', '-') or a bracketed IPv6,
# and a port 1..65535, all ASCII; the OpenAPI document states the same pattern.
HOST_PATTERN = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
PORT_PATTERN = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
ADDRESS_PATTERN = re.compile(f"({HOST_PATTERN}):([0-9]+)")


@dataclass(frozen=True, slots=True)
class Instance:
    service: str
    id: str
    address: str  # host:port other parts dial (the instance's Toxiproxy proxy)
    ttl_s: float
    meta: Mapping[str, str]

    def to_dict(self) -> dict:
        return {"id": self.id, "address": self.address, "meta": dict(self.meta)}


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # registered | reregistered | deregistered | expired
    service: str
    instance: str
    cause: str  # one human sentence


class Registry:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # service -> instance id -> Instance. A service stays known (with no instances)
        # after its last instance leaves, so proxies can tell "no healthy upstream" from
        # "unknown service".
        self._services: dict[str, dict[str, Instance]] = {}
        self._deadlines: dict[tuple[str, str], float] = {}

    def register(
        self,
        service: str,
        instance: str,
        address: str,
        ttl_s: float = DEFAULT_TTL_S,
        meta: Mapping[str, str] | None = None,
    ) -> Change | None:
        """Add or replace an instance and renew its TTL; None if nothing visible changed."""
        check_id(service, "service")
        check_id(instance, "instance")
        parse_address(address)
        check_ttl_s(ttl_s)
        meta = check_meta({} if meta is None else meta)
        new = Instance(service, instance, address, float(ttl_s), MappingProxyType(dict(meta)))
        instances = self._services.setdefault(service, {})
        old = instances.get(instance)
        instances[instance] = new
        self._deadlines[(service, instance)] = self._clock.monotonic() + new.ttl_s
        if old is None:
            return Change("registered", service, instance, f"registered at {address} with ttl {new.ttl_s:g}s")
        if (old.address, old.meta) != (new.address, new.meta):
            return Change(
                "reregistered",
                service,
                instance,
                f"re-registered: address {old.address} -> {address}, meta {dict(new.meta)}",
            )
        return None

    def know(self, service: str) -> None:
        """Make a service known with no instances (restored after a restart), so proxies
        keep telling "no healthy upstream" from "unknown service"."""
        self._services.setdefault(check_id(service, "service"), {})

    def heartbeat(self, service: str, instance: str) -> bool:
        """Renew the TTL; False if the instance is unknown (the client should re-register)."""
        inst = self._services.get(service, {}).get(instance)
        if inst is None:
            return False
        self._deadlines[(service, instance)] = self._clock.monotonic() + inst.ttl_s
        return True

    def deregister(self, service: str, instance: str) -> Change | None:
        if self._services.get(service, {}).pop(instance, None) is None:
            return None
        del self._deadlines[(service, instance)]
        return Change("deregistered", service, instance, "deregistered by request")

    def extend_all(self, seconds: float) -> None:
        """Push every TTL deadline back by ``seconds``: time the registry itself was not
        running (paused, starved) is not time an instance failed to heartbeat."""
        for key in self._deadlines:
            self._deadlines[key] += seconds

    def expire(self) -> list[Change]:
        """Remove every instance whose TTL lapsed without a heartbeat."""
        now = self._clock.monotonic()
        lapsed = [key for key, deadline in self._deadlines.items() if deadline <= now]
        changes = []
        for service, instance in lapsed:
            inst = self._services[service].pop(instance)
            del self._deadlines[(service, instance)]
            changes.append(Change("expired", service, instance, f"no heartbeat within its ttl of {inst.ttl_s:g}s"))
        return changes

    def remaining_s(self, service: str, instance: str) -> float | None:
        deadline = self._deadlines.get((service, instance))
        return None if deadline is None else max(0.0, deadline - self._clock.monotonic())

    def service_names(self) -> list[str]:
        return sorted(self._services)

    def instances(self, service: str) -> tuple[Instance, ...] | None:
        """The service's instances sorted by id; None if the service was never registered."""
        instances = self._services.get(service)
        if instances is None:
            return None
        return tuple(instances[i] for i in sorted(instances))

    def count(self) -> dict[str, int]:
        return {service: len(instances) for service, instances in self._services.items()}


def check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"{what} id {value!r} is invalid: use 1-63 characters of lowercase letters, digits, "
            f"'.', '_' or '-', starting with a letter or digit."
        )
    return value


def parse_address(address: Any) -> tuple[str, int]:
    """'host:port' (or '[v6]:port') -> (host, port); port must be 1..65535."""
    host, port = split_address(address)
    if ADDRESS_PATTERN.fullmatch(address) is None:  # what the OpenAPI document promises, and no more
        raise ValueError(
            f"address {address!r} is invalid: expected 'host:port' with a hostname, IPv4 or [IPv6] "
            f"address in ASCII letters, digits, '.', '_' or '-', e.g. '127.0.0.1:18001'."
        )
    return host, port


def check_ttl_s(ttl_s: Any) -> float:
    if (
        isinstance(ttl_s, bool)
        or not isinstance(ttl_s, (int, float))
        or not math.isfinite(ttl_s)
        or not 0 < ttl_s <= MAX_TTL_S
    ):
        raise ValueError(f"ttl_s must be a number of seconds in (0, {MAX_TTL_S:g}], got {ttl_s!r}.")
    return float(ttl_s)


def check_meta(meta: Any) -> Mapping[str, str]:
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta must be an object of string values, got {type(meta).__name__}.")
    if len(meta) > MAX_META_ENTRIES:
        raise ValueError(f"meta has {len(meta)} entries; at most {MAX_META_ENTRIES} are allowed.")
    for key, value in meta.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"meta entry {key!r}: {value!r} is invalid: meta keys and values must be strings.")
        if len(key) > MAX_META_CHARS or len(value) > MAX_META_CHARS:
            raise ValueError(
                f"meta entry {key!r} is too long: keys and values are limited to {MAX_META_CHARS} characters."
            )
    return meta
