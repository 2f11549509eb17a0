"""Keep-alive upstream connections per (host, port): how many stay idle, and for how long.

An idle connection costs a socket on both ends and, on the way through Toxiproxy, two
more plus its goroutines; issue 12 saw Toxiproxy's fds grow 19 → 313 in a soak because
every burst left up to 64 idle connections per upstream behind, forever. So idle ones
are capped per upstream and closed after an idle timeout.

The idle timeout is swept, not timed per connection: one pool timer every
`idle_timeout_s / 2` bumps a generation and closes connections idle for two whole
periods, so a connection goes between 1 and 1.5 idle timeouts after it was last used,
and a request pays no timer. The sweep runs only while something is idle.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .connection import UpstreamConnection
from .deadlines import HeadDeadlines
from .messages import Headers
from .response import ClientResponse, ConnectFailed
from .stats import count


@dataclass(frozen=True, slots=True)
class PoolConfig:
    # Envoy keeps idle upstream connections 1 h (idle_timeout) and HAProxy purges them
    # after 5 s (pool-purge-delay); 15 s keeps a demo's bursts warm and stays well below
    # the 60 s keep-alive our own servers give (so a hop never reuses one they closed).
    idle_timeout_s: float = 15.0
    # HAProxy's pool-max-conn is unlimited and Envoy has no idle cap. The cap must stay
    # above the concurrency one upstream sees, or every burst closes and reopens
    # connections: at 16, 32 clients through a sidecar pair churned the pool and doubled
    # the pair's CPU per request (benchmark: 271 vs 130 µs). 64 covers the benchmark's
    # 32 and a workshop's load; the idle timeout, not the cap, is what stops growth.
    max_idle_per_upstream: int = 64
    # Envoy's max_response_headers_kb is 60 KiB; HAProxy (tune.bufsize 16 KiB) and nginx
    # (proxy_buffer_size 4–8 KiB) are stricter. Beyond it: 502 upstream-head-too-large.
    max_head_bytes: int = 60 << 10
    # HAProxy's `timeout server` (commonly 30 s; Envoy's stream idle_timeout is 5 min):
    # a body that stops arriving for this long is cut, so a stalled upstream cannot keep
    # a client open for ever.
    body_idle_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("idle_timeout_s", "body_idle_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 86_400:
                raise ValueError(f"PoolConfig.{name} must be a number of seconds in (0, 86400], got {value!r}.")
        for name in ("max_idle_per_upstream", "max_head_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "max_idle_per_upstream" else 1):
                raise ValueError(
                    f"PoolConfig.{name} must be a non-negative integer (positive for a byte limit), got {value!r}."
                )


class UpstreamPool(Protocol):
    """What a caller sends through: `ConnectionPool`, or the unit tests' scripted pool.

    The pipeline, health probes and shell hold a pool by this type, not by the class, so a
    compiled (mypyc) pipeline, which checks an argument's class against its annotation,
    takes the scripted one too.
    """

    def idle(self, host: str, port: int) -> UpstreamConnection | None: ...

    async def request(
        self,
        host: str,
        port: int,
        method: bytes,
        target: bytes,
        headers: Headers,
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> ClientResponse: ...

    def close(self) -> None: ...


class ConnectionPool:
    """Keep-alive connections per (host, port)."""

    def __init__(self, config: PoolConfig | None = None, max_idle_per_host: int | None = None):
        cfg = config or PoolConfig()  # a proxy's shell passes its GATEMESH_POOL_* overrides (shell.upstream_pool)
        if max_idle_per_host is not None:  # the older keyword
            cfg = PoolConfig(cfg.idle_timeout_s, max_idle_per_host, cfg.max_head_bytes, cfg.body_idle_timeout_s)
        self.config = cfg
        self._max_idle = cfg.max_idle_per_upstream
        self._idle: dict[tuple[str, int], list[UpstreamConnection]] = {}
        self._gen = 0
        self._sweep: asyncio.TimerHandle | None = None
        self.deadlines = HeadDeadlines()  # every exchange's wait on its head, one timer
        # (host, port) -> (client SSLContext, the name its certificate must carry), or None for
        # plain: set by a proxy in mTLS mode (gatemesh.security.mesh_tls); read once per new connection.
        self.tls_for: Callable[[tuple[str, int]], tuple[ssl.SSLContext, str] | None] | None = None

    def idle_count(self) -> int:
        return sum(len(v) for v in self._idle.values())

    def release(self, conn: UpstreamConnection) -> None:
        idle = self._idle.get(conn.key)
        if idle is None:
            idle = self._idle[conn.key] = []
        if len(idle) < self._max_idle:
            conn.idle_gen = self._gen
            idle.append(conn)
            if self._sweep is None:
                self._sweep = conn.loop.call_later(self.config.idle_timeout_s / 2, self._sweep_idle, conn.loop)
        else:
            count("upstream-idle-cap")
            conn.abort()

    def forget(self, conn: UpstreamConnection) -> None:
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def _sweep_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        self._gen += 1
        oldest_kept = self._gen - 2
        for key, idle in list(self._idle.items()):
            # The list is in release order (LIFO reuse pops the end), so the stale ones lead.
            n = 0
            while n < len(idle) and idle[n].idle_gen <= oldest_kept:
                n += 1
            for conn in idle[:n]:
                count("upstream-idle-timeout-closed")
                conn.abort()
            del idle[:n]
            if not idle:
                del self._idle[key]
        self._sweep = loop.call_later(self.config.idle_timeout_s / 2, self._sweep_idle, loop) if self._idle else None

    async def _connect(self, key: tuple[str, int]) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            tls = self.tls_for(key) if self.tls_for is not None else None
            if tls is None:
                _, conn = await loop.create_connection(lambda: UpstreamConnection(self, key), key[0], key[1])
            else:
                _, conn = await loop.create_connection(
                    lambda: UpstreamConnection(self, key), key[0], key[1], ssl=tls[0], server_hostname=tls[1]
                )
        except OSError as exc:  # ssl.SSLError is one: a refused handshake is a failed connect
            raise ConnectFailed(f"cannot connect to {key[0]}:{key[1]}: {exc.strerror or exc}") from None
        return conn

    async def request(
        self,
        host: str,
        port: int,
        method: bytes,
        target: bytes,
        headers: Headers,
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> ClientResponse:
        """Send one request; returns once the final response head is in.

        `headers` must not contain framing headers: Content-Length is set here.
        `timeout_s` bounds the whole wait for the response head, connecting included:
        TimeoutError when it passes (the connection is closed, never reused). The pool's
        one deadline timer does it (deadlines.py), not a timer per request.
        Cancelling the caller closes the connection too.
        """
        conn = self.idle(host, port)
        if conn is None:
            key = (host, port)
            if timeout_s is None:
                conn = await self._connect(key)
            else:
                started = asyncio.get_running_loop().time()
                async with asyncio.timeout(timeout_s):
                    conn = await self._connect(key)
                timeout_s = max(0.0, timeout_s - (conn.loop.time() - started))
        fut = conn.send(method, target, headers, body, timeout_s)
        try:
            return await fut
        except asyncio.CancelledError:
            conn.abort()
            raise

    def idle(self, host: str, port: int) -> UpstreamConnection | None:
        """A kept-alive connection to reuse (the most recently used), or None. The pipeline
        calls it and `UpstreamConnection.send` itself: no coroutine when one is idle."""
        idle = self._idle.get((host, port))
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be stale
            if not conn.closed:
                return conn
        return None

    def close(self) -> None:
        self.deadlines.close()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conns in list(self._idle.values()):
            for conn in list(conns):
                conn.abort()
        self._idle.clear()
