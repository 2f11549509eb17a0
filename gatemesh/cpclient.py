"""The proxies' HTTP client to the control plane: JSON calls on the pooled HTTP/1.1 client
the data path already uses (gatemesh.http), instead of aiohttp.

A proxy talks to the control plane only for discovery (the snapshot long-poll, its
registration and heartbeats). aiohttp was imported for that alone and cost each gateway
and sidecar ~14 MB of memory and a tenth of a second of start-up (docs/performance.md);
the pooled client is already loaded, keeps the connection alive between calls, and
bounds every buffer and wait as on the data path.

Errors are those of the pooled client (`UpstreamError` and its kinds, `TimeoutError`);
the discovery loops catch them, log a state change once and retry.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode, urlsplit

from .http.messages import Headers
from .http.pool import ConnectionPool, PoolConfig

# The control plane's keep-alive outlasts a long-poll; an idle connection between two polls
# is reused, and one idle longer than this is closed (as on the data path).
IDLE_TIMEOUT_S = 30.0


class ControlPlaneClient:
    """JSON over HTTP/1.1 to one control plane (`http://host:port[/prefix]`)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the control plane URL must be http://host:port, got {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self._headers: Headers = [(b"host", parts.netloc.encode()), (b"accept", b"application/json")]
        if token:
            self._headers.append((b"authorization", b"Bearer " + token.encode()))
        self._pool = ConnectionPool(PoolConfig(idle_timeout_s=IDLE_TIMEOUT_S, max_idle_per_upstream=2))

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        timeout_s: float,
    ) -> tuple[int, bytes]:
        """(status, body) of one call; the whole exchange, body included, within `timeout_s`."""
        target = self.prefix + path + ("?" + urlencode(params) if params else "")
        headers = list(self._headers)
        data = b""
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers.append((b"content-type", b"application/json"))
        async with asyncio.timeout(timeout_s):
            resp = await self._pool.request(
                self.host, self.port, method.encode(), target.encode(), headers, data, timeout_s=timeout_s
            )
            payload = await resp.read()
        return resp.status, payload

    def close(self) -> None:
        self._pool.close()
