"""What one listener bounds: sizes, waits and connections, each with its default and whose.

Every buffer has a limit and every wait a timeout (ARCHITECTURE.md's invariant). The
defaults sit between Envoy's, HAProxy's and nginx's, chosen for a demo on one machine;
docs/http.md has the table side by side. A listener takes a `ServerLimits`; the proxies
use the defaults unless their shell passes others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

_C = TypeVar("_C")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    # --- sizes -----------------------------------------------------------------------
    # 1 MiB: bodies are buffered for retries, so cap them (Envoy buffers up to its
    # per_request_buffer_limit too; nginx's client_max_body_size is 1 MiB as well).
    max_body_bytes: int = 1 << 20
    # nginx's large_client_header_buffers is 8 KiB per line; HAProxy's whole head is
    # 16 KiB (tune.bufsize); Envoy allows 60 KiB of headers including the path. → 414.
    max_request_line_bytes: int = 8 << 10
    # One header line (name + value): nginx's 8 KiB again. → 431.
    max_header_line_bytes: int = 8 << 10
    # The whole head, request line included: Envoy's 60 KiB, rounded to 64 KiB. → 431.
    max_header_bytes: int = 64 << 10
    # Queued requests on one connection before reading pauses (backpressure, not a refusal).
    max_pipelined: int = 16
    # --- waits -----------------------------------------------------------------------
    # From the first byte of a head (or the connection's start) to its end: HAProxy's
    # `timeout http-request` as commonly set (10 s; nginx's client_header_timeout is 60 s,
    # Envoy's request_headers_timeout is off). A slowloris is cut here. → 408.
    header_timeout_s: float = 10.0
    # The longest pause between two pieces of a request body: nginx's client_body_timeout
    # is 60 s, Envoy's stream_idle_timeout 5 min; 30 s for a demo. → 408. Also bounds a
    # client that stops reading a streamed answer.
    body_idle_timeout_s: float = 30.0
    # An idle keep-alive connection is closed (silently) after this: nginx's
    # keepalive_timeout is 75 s, Envoy's idle_timeout 1 h; 60 s is above the pools' 15 s
    # idle timeout, so a gatemesh hop never reuses a connection its peer closed.
    keepalive_timeout_s: float = 60.0
    # The longest a handler may take to start its answer, then 504 timeout and the upstream
    # call is cancelled: a backstop above every policy's own timeouts (Envoy's stream idle
    # timeout, 5 min). A sidecar's inbound listener, which has no policy timeout, sets
    # Envoy's route timeout (15 s).
    answer_timeout_s: float = 300.0
    # --- connections -----------------------------------------------------------------
    # Open connections per listener; one more is answered 503 too-many-connections and
    # closed. HAProxy's maxconn defaults from the fd limit (about 2,000 on a default box),
    # Envoy has none without the overload manager. 4,096 holds a 1,000-connection
    # slowloris with room for real clients, and stays far below a 20,000 fd limit.
    max_connections: int = 4096
    # Open connections per client address (0: no cap, the default). HAProxy and Envoy have
    # none by default either: HAProxy's is a stick-table rule (`src_conn_cur`, commonly
    # 10–100), Envoy's a per-source overload action. Off, because in a workshop every
    # client is 127.0.0.1 and the cap would count them as one; behind real clients, set
    # it (e.g. 256) so one address cannot take the listener's whole cap. → 503.
    max_connections_per_client: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_s"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 86_400:
                    raise ValueError(f"ServerLimits.{f.name} must be a number of seconds in (0, 86400], got {value!r}.")
            elif f.name == "max_connections_per_client":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"ServerLimits.{f.name} must be 0 (no cap) or a positive integer, got {value!r}.")
            elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ServerLimits.{f.name} must be a positive integer, got {value!r}.")
        if self.max_request_line_bytes > self.max_header_bytes or self.max_header_line_bytes > self.max_header_bytes:
            raise ValueError(
                "ServerLimits: a request line or header line limit above the whole head's limit "
                f"({self.max_header_bytes} bytes) could never be reached."
            )

    @property
    def tick_s(self) -> float:
        """How often the listener's sweeper looks at its connections' clocks: a quarter of
        the shortest wait, at most 0.5 s (so a 10 s header timeout fires within 10–10.5 s)."""
        return min(
            0.5,
            self.header_timeout_s / 4,
            self.body_idle_timeout_s / 4,
            self.keepalive_timeout_s / 4,
            self.answer_timeout_s / 4,
        )


def from_env(cls: type[_C], env: Mapping[str, str], prefix: str) -> _C:
    """`cls` with its defaults, overridden by `<prefix><FIELD>` variables (the apps call
    this at their edge; tests and experiments use it to shorten a wait). A value that does
    not parse is a ValueError naming the variable."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        raw = env.get(prefix + f.name.upper())
        if raw is None:
            continue
        try:
            values[f.name] = float(raw) if f.name.endswith("_s") else int(raw)
        except ValueError:
            raise ValueError(f"{prefix}{f.name.upper()}={raw!r} is not a number") from None
    return cls(**values)


ENV_PREFIX = "GATEMESH_HTTP_"  # GATEMESH_HTTP_HEADER_TIMEOUT_S=2 ...


def listener_limits(env: Mapping[str, str], **overrides: Any) -> ServerLimits:
    """The defaults, GATEMESH_HTTP_* from ``env`` (a process's environment, read by its
    shell), then `overrides` (the app's own, e.g. a sidecar inbound's answer timeout)."""
    return replace(from_env(ServerLimits, env, ENV_PREFIX), **overrides)


POOL_ENV_PREFIX = "GATEMESH_POOL_"  # GATEMESH_POOL_IDLE_TIMEOUT_S=1 ...
