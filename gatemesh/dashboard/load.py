"""The built-in demo load: a bounded open loop of GETs to the topology's entry point.

Bounded by design: the rate and duration are capped (``DashboardConfig``), concurrency
is a semaphore, every request has a timeout, and the target must be a loopback address.
The mix names paths of the gateway's API: ``products`` (the page composed at the edge),
``storefront`` (composed in the mesh) and the atomic services.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .config import DashboardConfig

PATHS = {
    "products": "/api/products/{id}",
    "storefront": "/api/storefront/{id}",
    "catalog": "/api/catalog/{id}",
    "pricing": "/api/pricing/{id}",
    "inventory": "/api/inventory/{id}",
    "reviews": "/api/reviews/{id}",
}
MESH_PATHS = {"storefront": "/products/{id}"}  # no gateway: the entry is a storefront sidecar
WINDOW_S = 2.0  # rates over the last two seconds: steady at 1 Hz, still quick to move


class LoadError(ValueError):
    """A bad load setting; the message is one sentence."""


@dataclass(frozen=True)
class LoadSpec:
    rate_per_s: float
    duration_s: float
    mix: dict[str, float]

    @classmethod
    def parse(cls, body: dict[str, Any], config: DashboardConfig) -> LoadSpec:
        try:
            rate = float(body.get("rate_per_s", 20))
            duration = float(body.get("duration_s", 300))
        except (TypeError, ValueError):
            raise LoadError("rate_per_s and duration_s must be numbers") from None
        if not 0 < rate <= config.max_load_rate_per_s:
            raise LoadError(f"rate_per_s must be above 0 and at most {config.max_load_rate_per_s:g}, got {rate:g}")
        if not 0 < duration <= config.max_load_duration_s:
            raise LoadError(f"duration_s must be above 0 and at most {config.max_load_duration_s:g}, got {duration:g}")
        mix = body.get("mix") or {"products": 1, "storefront": 1}
        if not isinstance(mix, dict) or not mix:
            raise LoadError('mix must be an object such as {"products": 1, "storefront": 1}')
        for k, v in mix.items():
            if k not in PATHS:
                raise LoadError(f"unknown path {k!r} in the mix; use: {', '.join(PATHS)}")
            if not isinstance(v, (int, float)) or v < 0:
                raise LoadError(f"the weight of {k} must be a number >= 0, got {v!r}")
        if sum(mix.values()) <= 0:
            raise LoadError("at least one weight of the mix must be above 0")
        return cls(rate, duration, {k: float(v) for k, v in mix.items() if v > 0})


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Load:
    def __init__(self, config: DashboardConfig) -> None:
        self.config = config
        self.task: asyncio.Task | None = None
        self.spec: LoadSpec | None = None
        self.results: dict[str, deque[tuple[float, bool, float]]] = {}
        self.sent = self.ok = 0
        self.ends_at = 0.0

    def start(self, spec: LoadSpec, entry: str, api_key: str | None, gateway: bool) -> None:
        if not (loopback(entry) or self.config_allows_remote(entry)):
            raise LoadError(f"the built-in load only targets loopback addresses, not {entry}")
        self.stop()
        self.spec, self.sent, self.ok = spec, 0, 0
        self.results = {k: deque() for k in spec.mix}
        self.ends_at = time.monotonic() + spec.duration_s
        self.task = asyncio.get_running_loop().create_task(self._run(spec, entry.rstrip("/"), api_key, gateway))

    @staticmethod
    def config_allows_remote(entry: str) -> bool:
        # In docker compose the entry is a container of the project's own network, named
        # by its compose service (one DNS label, no dots): never an outside address.
        host = urlsplit(entry).hostname or ""
        return bool(host) and "." not in host and ":" not in host

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self, spec: LoadSpec, entry: str, key: str | None, gateway: bool) -> None:
        sem = asyncio.Semaphore(self.config.load_concurrency)
        headers = {"X-Api-Key": key} if key else {}
        names, weights = list(spec.mix), list(spec.mix.values())
        rng = random.Random(7)
        timeout = aiohttp.ClientTimeout(total=self.config.load_timeout_s)
        interval = 1.0 / spec.rate_per_s
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            next_at = time.monotonic()
            pending: set[asyncio.Task] = set()
            while time.monotonic() < self.ends_at:
                name = rng.choices(names, weights)[0]
                template = PATHS[name] if gateway else MESH_PATHS.get(name, PATHS[name])
                url = entry + template.format(id=rng.randint(1, 20))
                if sem.locked():
                    self._record(name, False, self.config.load_timeout_s)  # shed: over the concurrency bound
                else:
                    await sem.acquire()
                    t = asyncio.create_task(self._one(session, sem, name, url))
                    pending.add(t)
                    t.add_done_callback(pending.discard)
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            for t in list(pending):
                t.cancel()
        self.task = None

    async def _one(self, session: aiohttp.ClientSession, sem: asyncio.Semaphore, name: str, url: str) -> None:
        t0 = time.monotonic()
        ok = False
        try:
            async with session.get(url) as r:
                await r.read()
                ok = r.status < 500
        except (TimeoutError, aiohttp.ClientError, OSError):
            ok = False
        finally:
            sem.release()
        self._record(name, ok, time.monotonic() - t0)

    def _record(self, name: str, ok: bool, latency_s: float) -> None:
        self.sent += 1
        self.ok += ok
        self.results[name].append((time.monotonic(), ok, latency_s))

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        paths = {}
        for name, q in self.results.items():
            while q and q[0][0] < now - WINDOW_S:
                q.popleft()
            lat = sorted(r[2] for r in q)
            paths[name] = {
                "rps": len(q) / WINDOW_S,
                "success": (sum(r[1] for r in q) / len(q)) if q else None,
                "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None,
            }
        running = self.task is not None and not self.task.done()
        spec = self.spec
        return {
            "running": running,
            "rate_per_s": spec.rate_per_s if spec else None,
            "mix": spec.mix if spec else None,
            "left_s": max(0.0, self.ends_at - now) if running else 0.0,
            "sent": self.sent,
            "ok": self.ok,
            "paths": paths,
        }
