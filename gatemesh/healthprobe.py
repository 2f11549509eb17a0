"""Active health checks: the probing half (the verdicts are patterns/healthcheck.py's).

Every upstream whose policy turns checks on has each endpoint probed every
`interval_s` with a GET of `path` through the caller's own connection pool; the answer
(2xx/3xx within `timeout_s`) is recorded on the upstream's `HealthTracker`, which the
concrete layer's `Upstream.pick` consults.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .discovery import Endpoint
from .http.client import UpstreamError
from .upstream import Upstream

if TYPE_CHECKING:
    from .pipeline import ResilientCaller

TICK_S = 0.05  # how often the loop looks for a round that is due: well under any interval_s
USER_AGENT = b"gatemesh-health-check"


async def health_check_loop(caller: ResilientCaller, stop: asyncio.Event) -> None:
    """Until `stop` is set: probe the endpoints of every upstream whose round is due."""
    while not stop.is_set():
        now = caller.clock.monotonic()
        for up in list(caller.upstreams.values()):
            cfg = up.policy.health_check
            if cfg.enabled and up.ids and now >= up.next_probe_at:
                up.next_probe_at = now + cfg.interval_s
                await asyncio.gather(*(probe(caller, up, ep) for ep in list(up.endpoints.values())))
        try:
            await asyncio.wait_for(stop.wait(), TICK_S)
        except TimeoutError:
            pass


async def probe(caller: ResilientCaller, up: Upstream, ep: Endpoint) -> None:
    """One probe of one endpoint, its verdict recorded on the upstream's tracker."""
    cfg = up.policy.health_check
    try:
        async with asyncio.timeout(cfg.timeout_s):
            resp = await caller.pool.request(
                ep.host,
                ep.port,
                b"GET",
                cfg.path.encode(),
                [(b"host", up.service.encode()), (b"user-agent", USER_AGENT)],
            )
            await resp.read()
        ok = 200 <= resp.status < 400
        detail = f"status {resp.status}"
    except TimeoutError:
        ok, detail = False, f"no answer within {cfg.timeout_s * 1000:.0f} ms"
    except UpstreamError as exc:
        ok, detail = False, str(exc)
    up.health.record(ep.id, ok, detail)
