"""The pooled upstream HTTP/1.1 client: what the pipeline imports.

connection.py   one connection's state machine (interim answers, framing, limits)
pool.py         keep-alive connections per upstream, their idle cap and timeout
response.py     the answer handed back, and the client's typed failures
"""

from __future__ import annotations

from .connection import UpstreamConnection, close_delimited
from .pool import ConnectionPool, PoolConfig, UpstreamPool
from .response import (
    ClientResponse,
    ConnectFailed,
    UpstreamError,
    UpstreamHeadTooLarge,
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamReset,
)

__all__ = [
    "ClientResponse",
    "ConnectFailed",
    "ConnectionPool",
    "PoolConfig",
    "UpstreamConnection",
    "UpstreamError",
    "UpstreamHeadTooLarge",
    "UpstreamIdleTimeout",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamReset",
    "close_delimited",
]
