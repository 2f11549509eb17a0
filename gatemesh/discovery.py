"""Discovery client, shared by the gateway and the sidecars (not on the request hot path).

``SnapshotWatcher`` long-polls the control plane's ``GET /v1/snapshot?index=N&wait_s=S``
and keeps the last snapshot it saw. When the control plane is unreachable it keeps that
snapshot (proxies go on serving with their last known endpoints and policies), sets
``connected = False`` and retries with a small capped backoff; it logs one line per
state change, never one per retry, and never raises out of its loop.

``Registration`` registers one instance and heartbeats it every ``ttl_s / 3``; when a
heartbeat answers 404 (the control plane restarted, or the TTL lapsed) it registers
again. ``stop`` deregisters, best effort, within about a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .address import split_address
from .cpclient import ControlPlaneClient
from .http.response import UpstreamError
from .patterns.retry import jittered_backoff_s

log = logging.getLogger("gatemesh.discovery")

MAX_BACKOFF_S = 2.0  # a watcher retries at least this often while the control plane is down
POLL_SLACK_S = 5.0  # a long-poll may take wait_s plus this before it counts as failed
DEREGISTER_TIMEOUT_S = 1.0
_EMPTY: Mapping = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    host: str
    port: int
    meta: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Endpoint:
        host, port = split_address(d["address"])
        return cls(str(d["id"]), host, port, MappingProxyType(dict(d.get("meta") or {})))


@dataclass(frozen=True)
class Snapshot:
    index: int
    services: Mapping[str, tuple[Endpoint, ...]]
    policies: Mapping[str, Mapping]
    apimgmt: Mapping  # {} = no API management configured at the control plane
    authz: Mapping = field(default_factory=lambda: _EMPTY)  # {} = default allow (gatemesh.security.authz)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Snapshot:
        """Parse a /v1/snapshot body; ValueError if it is not one."""
        try:
            services = {
                name: tuple(Endpoint.from_dict(e) for e in endpoints) for name, endpoints in d["services"].items()
            }
            return cls(
                int(d["index"]),
                MappingProxyType(services),
                MappingProxyType(dict(d.get("policies") or {})),
                MappingProxyType(dict(d.get("apimgmt") or {})),
                MappingProxyType(dict(d.get("authz") or {})),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a control-plane snapshot: {exc!r}") from None


async def _cancel(task: asyncio.Task | None) -> None:
    """Cancel a background loop and wait until it has stopped."""
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


class SnapshotWatcher:
    def __init__(
        self,
        control_plane_url: str,
        on_change: Callable[[Snapshot], None] | None = None,
        wait_s: float = 10.0,
        retry_s: float = 0.5,
        token: str | None = None,  # a bearer credential: the snapshot's API keys are shown only to one
    ) -> None:
        self.url = control_plane_url.rstrip("/")
        self.token = token
        self.on_change = on_change
        self.wait_s = wait_s
        self.retry_s = retry_s
        self.snapshot: Snapshot | None = None
        self.connected = False
        self._logged_state: bool | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._client: ControlPlaneClient | None = None
        self._random = random.Random()

    async def start(self) -> None:
        """Start the long-poll loop; returns at once (see ``wait_ready``)."""
        if self._task is not None:
            return
        self._client = ControlPlaneClient(self.url, self.token)
        self._task = asyncio.create_task(self._run(), name=f"snapshot-watcher {self.url}")

    async def wait_ready(self, timeout_s: float) -> bool:
        """True once a first snapshot arrived; False if none within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop polling; ``snapshot`` keeps the last known state."""
        task, self._task = self._task, None
        await _cancel(task)
        if self._client is not None:
            self._client.close()
            self._client = None
        self.connected = False

    def endpoints(self, service: str) -> tuple[Endpoint, ...]:
        snapshot = self.snapshot
        return () if snapshot is None else snapshot.services.get(service, ())

    async def _run(self) -> None:
        failures = 0
        while True:
            # After a failure ask for the full state at once (index 0): a restarted control
            # plane counts its index from 1 again and could collide with ours.
            last = self.snapshot
            fresh = failures > 0 or last is None
            index = 0 if last is None or fresh else last.index
            try:
                snapshot = await self._poll(index)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
                failures += 1
                self._set_connected(False, exc)
                await asyncio.sleep(self._backoff_s(failures))
                continue
            failures = 0
            self._set_connected(True)
            if last is None or fresh or snapshot.index != last.index:
                self.snapshot = snapshot
                self._ready.set()
                if self.on_change is not None:
                    try:
                        self.on_change(snapshot)
                    except Exception:  # noqa: BLE001
                        log.exception("discovery: on_change failed for snapshot index %d", snapshot.index)

    async def _poll(self, index: int) -> Snapshot:
        params = {"index": str(index), "wait_s": f"{self.wait_s:g}"}
        assert self._client is not None, "start() opens the client before the loop polls"
        status, body = await self._client.call(
            "GET", "/v1/snapshot", params=params, timeout_s=self.wait_s + POLL_SLACK_S
        )
        if status != 200:
            raise ValueError(f"control plane answered {status} to /v1/snapshot")
        return Snapshot.from_dict(json.loads(body))

    def _backoff_s(self, failures: int) -> float:
        # Jittered, so that the proxies' reconnects after a control-plane restart do not arrive in step.
        return jittered_backoff_s(self.retry_s, max(self.retry_s, MAX_BACKOFF_S), failures, self._random)

    def _set_connected(self, connected: bool, exc: BaseException | None = None) -> None:
        self.connected = connected
        if self._logged_state is connected:
            return
        self._logged_state = connected
        if connected:
            log.info("discovery: connected to control plane %s", self.url)
        else:
            kept = f"keeping snapshot index {self.snapshot.index}" if self.snapshot else "no snapshot yet"
            log.warning(
                "discovery: control plane %s unreachable (%s: %s); %s, retrying",
                self.url,
                type(exc).__name__,
                exc,
                kept,
            )


class Registration:
    """Register one instance with the control plane and keep its TTL alive."""

    def __init__(
        self,
        control_plane_url: str,
        service: str,
        instance: str,
        address: str,
        ttl_s: float = 3.0,
        meta: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.url = control_plane_url.rstrip("/")
        self.token = token  # the instance's bootstrap credential: the control plane lets it write only this instance
        self.service = service
        self.instance = instance
        self.address = address
        self.ttl_s = ttl_s
        self.meta = dict(meta or {})
        self.interval_s = ttl_s / 3  # three heartbeats per TTL: one lost beat does not expire us
        self.registered = False
        self._logged_state: bool | None = None
        self._task: asyncio.Task | None = None
        self._client: ControlPlaneClient | None = None
        self._timeout_s = max(0.5, min(2.0, ttl_s / 2))  # each call: a beat must not outlast the next one

    @property
    def _instance_path(self) -> str:
        return f"/v1/services/{self.service}/instances/{self.instance}"

    async def start(self) -> None:
        """Register once (without raising if the control plane is down), then heartbeat."""
        if self._task is not None:
            return
        self._client = ControlPlaneClient(self.url, self.token)
        await self._beat()
        self._task = asyncio.create_task(self._run(), name=f"registration {self.service}/{self.instance}")

    async def stop(self) -> None:
        """Stop heartbeating and deregister (best effort, bounded by ~1 s)."""
        task, self._task = self._task, None
        await _cancel(task)
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await client.call("DELETE", self._instance_path, timeout_s=DEREGISTER_TIMEOUT_S)
            log.info("discovery: deregistered %s/%s", self.service, self.instance)
        except (UpstreamError, OSError, TimeoutError) as exc:
            log.warning(
                "discovery: could not deregister %s/%s (%s); its TTL will lapse",
                self.service,
                self.instance,
                type(exc).__name__,
            )
        finally:
            client.close()
            self.registered = False

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self._beat()

    async def _beat(self) -> None:
        """Heartbeat if registered, else register; never raises."""
        client = self._client
        assert client is not None, "start() opens the client before the first beat"
        try:
            if self.registered:
                # the heartbeat carries the address: an overwritten registration is corrected
                beat = {"address": self.address}
                status, _ = await client.call(
                    "PUT", f"{self._instance_path}/heartbeat", body=beat, timeout_s=self._timeout_s
                )
                if status == 200:
                    return
                if status != 404:
                    raise ValueError(f"heartbeat answered {status}")
                # 404: the control plane forgot us (restart, or our TTL lapsed): register again
            body = {"address": self.address, "ttl_s": self.ttl_s, "meta": self.meta}
            status, detail = await client.call("PUT", self._instance_path, body=body, timeout_s=self._timeout_s)
            if status != 200:
                raise ValueError(f"registration answered {status}: {detail[:300].decode(errors='replace')}")
            self._set_registered(True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep trying every interval
            self._set_registered(False, exc)

    def _set_registered(self, registered: bool, exc: BaseException | None = None) -> None:
        self.registered = registered
        if self._logged_state is registered:
            return
        self._logged_state = registered
        if registered:
            log.info("discovery: registered %s/%s at %s with %s", self.service, self.instance, self.address, self.url)
        else:
            log.warning(
                "discovery: %s/%s is not registered (%s: %s); retrying every %.1fs",
                self.service,
                self.instance,
                type(exc).__name__,
                exc,
                self.interval_s,
            )
