"""The control plane's state: the registry, mesh policies, the API-management config, one
global index over all of them, the event log, and the long-poll wake-up.

Every visible change bumps ``index`` (it starts at 1) and wakes every waiting long-poll at
once: waiters await the current generation's ``asyncio.Event``; a change sets it and
installs a fresh one. The snapshot's JSON body is encoded once per index and shared by
every waiter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mesh.controlplane.registry import Change, Instance, Registry

log = logging.getLogger("gatemesh.controlplane")

MAX_EVENTS = 1000  # the event log is a ring: /v1/events?since=N returns what is left


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    at: float  # unix time, seconds
    kind: str  # registered reregistered deregistered expired policy-changed apimgmt-changed
    service: str | None
    instance: str | None
    cause: str

    def to_dict(self) -> dict:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "service": self.service,
            "instance": self.instance,
            "cause": self.cause,
        }


class Store:
    def __init__(
        self, registry: Registry, wall_time: Callable[[], float] = time.time, max_events: int = MAX_EVENTS
    ) -> None:
        self.registry = registry
        self.index = 1
        self.policies: dict[str, dict] = {}
        self.apimgmt: dict = {}  # {} = nothing configured yet (PUT /v1/apimgmt sets it)
        self.authz: dict = {}  # {} = default allow (PUT /v1/authz sets it; gatemesh.security.authz)
        self.events: deque[Event] = deque(maxlen=max_events)
        self.event_counts: Counter[str] = Counter()
        self.waiting = 0  # long-polls parked right now
        self._seq = 0
        self._wall_time = wall_time
        self._changed = asyncio.Event()
        self._closed = False
        self._snapshot_body: tuple[int, bytes] | None = None
        self.max_wait_s = 60.0  # longest snapshot long-poll (api.MAX_WAIT_S; --max-wait-s)
        self.warm_until = 0.0  # loop time before which snapshot watches are refused (after a restart)
        # persistence hook: called with ``durable_state()`` after every visible change
        self.on_state_change: Callable[[dict[str, Any]], None] | None = None

    # -- instances ---------------------------------------------------------------
    def register(self, service: str, instance: str, address: str, ttl_s: float, meta: Mapping[str, str]) -> bool:
        """Register or re-register; True if the instance is new."""
        change = self.registry.register(service, instance, address, ttl_s, meta)
        self._apply([change] if change else [])
        return change is not None and change.kind == "registered"

    def heartbeat(self, service: str, instance: str, address: str | None = None) -> bool:
        """Renew the TTL; with ``address``, also correct a registration that says otherwise."""
        current = self.instance(service, instance)
        if current is None:
            return False
        if address is not None and address != current.address:
            self.register(service, instance, address, current.ttl_s, current.meta)
            return True
        return self.registry.heartbeat(service, instance)

    def deregister(self, service: str, instance: str) -> bool:
        change = self.registry.deregister(service, instance)
        self._apply([change] if change else [])
        return change is not None

    def expire(self) -> int:
        changes = self.registry.expire()
        self._apply(changes)
        return len(changes)

    # -- policies and API management --------------------------------------------
    def set_policy(self, service: str, policy: dict) -> None:
        if self.policies.get(service) == policy:
            return
        self.policies[service] = policy
        self._record("policy-changed", service, None, "policy set")
        self._bump()
        self._persist()

    def delete_policy(self, service: str) -> bool:
        if self.policies.pop(service, None) is None:
            return False
        self._record("policy-changed", service, None, "policy deleted: defaults apply")
        self._bump()
        self._persist()
        return True

    def set_authz(self, config: dict) -> None:
        if config == self.authz:
            return
        self.authz = config
        self._record(
            "authz-changed",
            None,
            None,
            f"authorization: default {config.get('default')}, {len(config.get('rules', []))} rule(s)",
        )
        self._bump()

    def set_apimgmt(self, config: dict) -> None:
        if config == self.apimgmt:
            return
        self.apimgmt = config
        self._record("apimgmt-changed", None, None, f"api management set: {len(config.get('keys', {}))} key(s)")
        self._bump()
        self._persist()

    def _persist(self) -> None:
        if self.on_state_change is None:
            return
        try:
            self.on_state_change(self.durable_state())
        except OSError as exc:  # a full disk must not fail a registration; the next change retries
            log.error("could not save the control plane's state: %s", exc)

    def durable_state(self) -> dict[str, Any]:
        """What a restart restores (see persistence.py): policies, apimgmt, registrations."""
        registrations = [
            {"service": i.service, "instance": i.id, "address": i.address, "ttl_s": i.ttl_s, "meta": dict(i.meta)}
            for name in self.registry.service_names()
            for i in self.registry.instances(name) or ()
        ]
        return {
            "policies": self.policies,
            "apimgmt": self.apimgmt,
            "registrations": registrations,
            "services": self.registry.service_names(),
        }

    def restore(self, registrations: Iterable[Mapping[str, Any]], services: Iterable[str] = ()) -> int:
        """Put back saved registrations, each with a fresh TTL (no events: nothing changed
        for a watcher that saw them before the restart). Returns how many were restored;
        a malformed entry is skipped with a log line, never fatal."""
        restored = 0
        for name in services:
            try:
                self.registry.know(name)
            except ValueError:
                pass
        for r in registrations:
            try:
                self.registry.register(
                    r["service"], r["instance"], r["address"], r.get("ttl_s", 3.0), r.get("meta") or {}
                )
                restored += 1
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("not restoring registration %r: %s", r, exc)
        if restored:
            self._bump()
        return restored

    # -- reading -------------------------------------------------------------------
    def services(self) -> dict[str, list[dict]]:
        return {
            name: [i.to_dict() for i in self.registry.instances(name) or ()] for name in self.registry.service_names()
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "services": self.services(),
            "policies": self.policies,
            "apimgmt": self.apimgmt,
            "authz": self.authz,
        }

    def snapshot_body(self) -> tuple[int, bytes]:
        """(index, JSON body) of the current snapshot, encoded once per index."""
        if self._snapshot_body is None or self._snapshot_body[0] != self.index:
            self._snapshot_body = (self.index, json.dumps(self.snapshot()).encode())
        return self._snapshot_body

    def events_since(self, seq: int) -> list[dict]:
        return [e.to_dict() for e in self.events if e.seq > seq]

    @property
    def last_seq(self) -> int:
        return self._seq

    def instance(self, service: str, instance: str) -> Instance | None:
        for inst in self.registry.instances(service) or ():
            if inst.id == instance:
                return inst
        return None

    # -- long-poll -----------------------------------------------------------------
    async def wait_for_change(self, index: int, wait_s: float) -> None:
        """Return once ``self.index != index`` or after ``wait_s`` seconds.

        A client ahead of us (index > ours: the control plane restarted) returns at once,
        so it picks up the new state instead of waiting for us to catch up.
        """
        if index != self.index or self._closed or wait_s <= 0:
            return
        event = self._changed
        self.waiting += 1
        try:
            async with asyncio.timeout(wait_s):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1

    def close(self) -> None:
        """Release every parked long-poll (shutdown)."""
        self._closed = True
        self._changed.set()

    # -- internals -----------------------------------------------------------------
    def _apply(self, changes: Iterable[Change]) -> None:
        changed = False
        for c in changes:
            self._record(c.kind, c.service, c.instance, c.cause)
            changed = True
        if changed:
            self._bump()
            self._persist()

    def _record(self, kind: str, service: str | None, instance: str | None, cause: str) -> None:
        self._seq += 1
        self.events.append(Event(self._seq, round(self._wall_time(), 3), kind, service, instance, cause))
        self.event_counts[kind] += 1
        who = "/".join(p for p in (service, instance) if p) or "-"
        log.info("%s %s: %s", kind, who, cause)

    def _bump(self) -> None:
        self.index += 1
        self._changed.set()
        self._changed = asyncio.Event()
