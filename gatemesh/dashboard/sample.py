"""One poll round: every part's own state, fetched concurrently, each call bounded.

A part that does not answer in ``fetch_timeout_s`` is recorded as down for this round
(``None`` in place of its data), so a paused or killed proxy never stalls the round.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gatemesh.security.credentials import admin_token, bearer

from .parts import Parts
from .prom import Counters, parse

PROXY_KINDS = ("gateway", "sidecar")


@dataclass
class Sample:
    at: float  # wall clock (s)
    parts: Parts
    upstreams: dict[str, dict | None] = field(default_factory=dict)  # proxy -> /-/upstreams
    counters: dict[str, Counters | None] = field(default_factory=dict)  # proxy -> /metrics
    events: list[dict] = field(default_factory=list)  # new since the last round
    misbehave: dict[str, dict | None] = field(default_factory=dict)  # instance -> /admin/misbehave
    toxiproxy: dict[str, Any] | None = None  # GET /proxies
    registry: dict[str, Any] | None = None  # control plane snapshot
    policies: dict[str, dict | None] = field(default_factory=dict)  # edge / mesh -> table


class Sampler:
    def __init__(self, session: aiohttp.ClientSession, timeout_s: float) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.seen: dict[str, int] = {}  # proxy -> last event seq read

    async def _get(self, url: str, text: bool = False, headers: dict[str, str] | None = None) -> Any:
        try:
            async with self.session.get(url, timeout=self.timeout, headers=headers) as r:
                if r.status != 200:
                    return None
                return await (r.text() if text else r.json(content_type=None))
        except (TimeoutError, aiohttp.ClientError, ValueError, OSError):
            return None

    async def round(self, parts: Parts) -> Sample:
        s = Sample(time.time(), parts)
        jobs: list[Any] = []
        proxies = [p for p in parts.parts if p.kind in PROXY_KINDS and p.url]
        for p in proxies:
            jobs.append(self._proxy(s, p.name, p.url or ""))
        for p in parts.of("service"):
            if p.url:
                jobs.append(self._misbehave(s, p.name, p.url))
        st = parts.status
        if st.get("toxiproxy_api"):
            jobs.append(self._into(s, "toxiproxy", st["toxiproxy_api"] + "/proxies"))
        if st.get("controlplane"):
            jobs.append(self._into(s, "registry", st["controlplane"] + "/v1/snapshot?wait_s=0"))
            jobs.append(self._policy(s, "mesh", st["controlplane"] + "/v1/policies"))
        if st.get("gateway"):  # the gateway's policies: on its admin listener
            jobs.append(self._policy(s, "edge", (st.get("gateway_admin") or st["gateway"]) + "/-/policies"))
        await asyncio.gather(*jobs)
        s.events.sort(key=lambda e: e.get("at", 0))
        return s

    async def _proxy(self, s: Sample, name: str, url: str) -> None:
        since = self.seen.get(name, 0)
        up, metrics, events = await asyncio.gather(
            self._get(url + "/-/upstreams"),
            self._get(url + "/metrics", text=True),
            self._get(f"{url}/-/events?since={since}"),
        )
        s.upstreams[name] = (up or {}).get("upstreams") if up is not None else None
        try:
            s.counters[name] = parse(metrics) if metrics is not None else None
        except ValueError:
            s.counters[name] = None
        if events is not None:
            last = int(events.get("last_seq", since))
            new = events.get("events") or []
            if last < since:  # the proxy restarted: its sequence began again
                new = [e for e in new if e.get("seq", 0) <= last]
            self.seen[name] = last
            s.events.extend(new)

    async def _misbehave(self, s: Sample, name: str, url: str) -> None:
        # an app behind a sidecar shows its knob on its own port only to the run's admin token
        token = admin_token(s.parts.status.get("run_dir"))
        s.misbehave[name] = await self._get(url + "/admin/misbehave", headers=bearer(token))

    async def _into(self, s: Sample, attr: str, url: str) -> None:
        setattr(s, attr, await self._get(url))

    async def _policy(self, s: Sample, where: str, url: str) -> None:
        data = await self._get(url)
        if data is not None and where == "mesh":
            data = data.get("policies", {})
        s.policies[where] = data
