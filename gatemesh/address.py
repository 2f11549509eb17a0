"""The one host:port parser, for configs, flags, discovery and the control plane.

``split_address("127.0.0.1:8080") == ("127.0.0.1", 8080)``; an IPv6 host comes in
brackets (``"[::1]:8080"``) and goes out without them. Anything else is a ValueError
whose message is one sentence saying what was expected; each caller re-raises it as its
own error type (a config error, a flag error, a 400).
"""

from __future__ import annotations

from typing import Any

MAX_PORT = 65535


def split_address(address: Any) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port), the port from 1 to 65535."""
    if not isinstance(address, str):
        raise ValueError(f"address must be a string 'host:port', got {address!r}.")
    host, sep, port_text = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or any(c.isspace() for c in host) or not port_text.isdigit():
        raise ValueError(f"address {address!r} is invalid: expected 'host:port', e.g. '127.0.0.1:18001'.")
    port = int(port_text)
    if not 1 <= port <= MAX_PORT:
        raise ValueError(f"address {address!r} has port {port}; a port must be between 1 and {MAX_PORT}.")
    return host, port
