"""The aggregator: one loop polls the topology about once a second while any page is
open (and ``linger_s`` after), builds the view once, and hands the same JSON to every
page's queue. It also keeps what a newly opened page needs at once: the last view, the
timeline and the chart history with the fault windows."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

from .config import DashboardConfig
from .parts import Parts, PartsSource
from .sample import Sampler
from .view import ViewBuilder

log = logging.getLogger("gatemesh.dashboard")


def faulted(view: dict[str, Any]) -> list[str]:
    """Instances with a fault in force now (what the charts shade)."""
    out = []
    for svc in view.get("services", []):
        for i in svc["instances"]:
            if (
                i.get("alive") is False
                or i.get("paused")
                or i.get("proxy_down")
                or i.get("toxics")
                or i.get("misbehave")
                or i.get("sidecar") in ("killed", "paused")
            ):
                out.append(i["name"])
    return out


class Hub:
    def __init__(
        self, source: PartsSource, config: DashboardConfig, load_stats: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        self.source = source
        self.config = config
        self.load_stats = load_stats or dict
        self.builder = ViewBuilder()
        self.subscribers: set[asyncio.Queue[str]] = set()
        self.last: dict[str, Any] | None = None
        self.parts: Parts | None = None
        self.events: deque[dict] = deque(maxlen=config.max_events)
        self.history: deque[dict] = deque(maxlen=int(config.history_s / config.poll_interval_s))
        self.last_watched = 0.0
        self.wake = asyncio.Event()  # a page opened: start polling
        self.soon = asyncio.Event()  # a control acted: poll now, not at the next second
        self.rounds = 0

    # --- pages --------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[str]:
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=self.config.max_queued_views)
        self.subscribers.add(q)
        self.last_watched = time.monotonic()
        self.wake.set()
        return q

    def unsubscribe(self, q: asyncio.Queue[str]) -> None:
        self.subscribers.discard(q)
        self.last_watched = time.monotonic()

    def hello(self) -> str:
        """What a new page gets first: the last view, the timeline, the history."""
        return json.dumps({"view": self.last, "events": list(self.events), "history": list(self.history)})

    def publish(self, kind: str, data: Any) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data)}\n\n"
        for q in list(self.subscribers):
            if q.full():
                self.subscribers.discard(q)  # a page that stopped reading: it reconnects
                continue
            q.put_nowait(message)

    def note(self, kind: str, cause: str, target: str = "") -> None:
        """A timeline entry of the dashboard's own (a fault injected, a policy switched)."""
        ev = {"at": time.time(), "proxy": "dashboard", "kind": kind, "upstream": "", "instance": target, "cause": cause}
        self.events.append(ev)
        self.publish("events", [ev])

    # --- the loop -------------------------------------------------------------------
    def watched(self) -> bool:
        return bool(self.subscribers) or time.monotonic() - self.last_watched < self.config.linger_s

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            sampler = Sampler(session, self.config.fetch_timeout_s)
            while True:
                if not self.watched():
                    self.wake.clear()
                    await self.wake.wait()
                started = time.monotonic()
                try:
                    await self.tick(sampler)
                except Exception:  # an observer never dies of what it observes
                    log.exception("dashboard: poll round failed")
                pause = max(0.05, self.config.poll_interval_s - (time.monotonic() - started))
                try:
                    await asyncio.wait_for(self.soon.wait(), pause)
                except TimeoutError:
                    pass
                self.soon.clear()

    async def tick(self, sampler: Sampler) -> None:
        self.parts = await asyncio.to_thread(self.source.read)
        sample = await sampler.round(self.parts)
        view = self.builder.build(sample)
        view["load"] = self.load_stats()
        view["faulted"] = faulted(view)
        self.rounds += 1
        self.last = view
        if sample.events:
            self.events.extend(sample.events)
            self.publish("events", sample.events)
        point = self.point(view)
        self.history.append(point)
        self.publish("view", view)
        self.publish("point", point)

    def point(self, view: dict[str, Any]) -> dict[str, Any]:
        """One chart point per entry point: the page composed at the edge (/api/products)
        and in the mesh (/api/storefront), from the built-in load when it runs (the client's
        view), else from the gateway's own counters."""
        load = view.get("load") or {}
        paths = load.get("paths") or {}
        edges = {e["id"]: e for e in view["edges"]}
        out: dict[str, Any] = {"at": view["at"], "fault": bool(view["faulted"])}
        for entry, path, edge in (("edge", "products", None), ("mesh", "storefront", "gateway>storefront")):
            if load.get("running") and path in paths:
                p = paths[path]
                out[entry] = {"rps": p["rps"], "success": p["success"], "p99": p["p99"]}
            elif edge and edge in edges:
                e = edges[edge]
                out[entry] = {"rps": e["rps"], "success": e["success"], "p99": e["p99"]}
            else:
                out[entry] = {"rps": 0.0, "success": None, "p99": None}
        return out
