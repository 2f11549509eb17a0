"""Fallback: when every attempt failed (or was refused), answer with something useful.

Two kinds, tried in this order by ``choose``: the last good response to the same
``(method, path)`` if it is younger than ``max_age_s`` (``serve_last_good``), else a fixed
``default_status`` + ``default_body``. Off by default: a stale answer must be opted into
per service. The proxy marks a fallback answer with ``X-Gatemesh-Reason: fallback``.

``LastGoodCache`` keeps successful (2xx) GET responses only, each body up to
``max_body_bytes`` (64 KiB), at most ``max_entries`` (1024) keys, least recently used
evicted first: memory stays bounded at about 64 MiB worst case.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from gatemesh.clock import Clock
from gatemesh.patterns.validate import ConfigError, check_bool, check_int, check_number

MAX_BODY_BYTES = 64 * 1024  # bodies bigger than this are not worth keeping for a fallback
MAX_ENTRIES = 1024  # (method, path) keys kept per cache
_JSON_HEADERS = ((b"content-type", b"application/json"),)


@dataclass(frozen=True, slots=True)
class FallbackConfig:
    enabled: bool = False  # off: a stale or canned answer must be opted into, per service
    serve_last_good: bool = True  # the last good GET answer beats an error for read-mostly data
    max_age_s: float = 60.0  # a minute-old catalog is fine; older is more likely wrong than useful
    default_status: int | None = None  # none: with no last good answer the error goes through
    default_body: str | None = None  # JSON text sent with default_status (200 if only the body is set)

    def __post_init__(self) -> None:
        check_bool("fallback.enabled", self.enabled)
        check_bool("fallback.serve_last_good", self.serve_last_good)
        object.__setattr__(
            self,
            "max_age_s",
            check_number("fallback.max_age_s", self.max_age_s, 0, 86400, lo_open=True, what="seconds"),
        )
        if self.default_status is not None:
            check_int("fallback.default_status", self.default_status, 200, 599, "(an HTTP status)")
        if self.default_body is not None:
            if not isinstance(self.default_body, str):
                raise ConfigError(
                    "fallback.default_body", f"fallback.default_body must be JSON text, got {self.default_body!r}."
                )
            try:
                json.loads(self.default_body)
            except ValueError as exc:
                raise ConfigError(
                    "fallback.default_body",
                    f"fallback.default_body must be valid JSON text ({exc}), got {self.default_body!r}.",
                ) from None


@dataclass(frozen=True, slots=True)
class CachedResponse:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    stored_at: float  # clock time it was stored (a default response: when it was built)


def _is_get(method: object) -> bool:
    return method == b"GET" or method == "GET"


class LastGoodCache:
    """Last successful GET response per ``(method, path)`` key, LRU-bounded."""

    __slots__ = ("_config", "_clock", "_entries", "max_entries", "max_body_bytes")

    def __init__(
        self,
        config: FallbackConfig,
        clock: Clock,
        *,
        max_entries: int = MAX_ENTRIES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._config = config
        self._clock = clock
        self._entries: OrderedDict[Hashable, CachedResponse] = OrderedDict()
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def active(self) -> bool:
        """Whether responses are kept at all (fallback on and serving last good answers)."""
        return self._config.enabled and self._config.serve_last_good

    def reconfigure(self, config: FallbackConfig) -> None:
        self._config = config
        if not (config.enabled and config.serve_last_good):
            self._entries.clear()

    def store(self, key: tuple[Hashable, ...], status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
        """Keep a response if it is a 2xx answer to a GET with a small enough body; True if kept."""
        if not (self._config.enabled and self._config.serve_last_good):
            return False
        if not (200 <= status < 300 and _is_get(key[0]) and len(body) <= self.max_body_bytes):
            return False
        entries = self._entries
        entries[key] = CachedResponse(status, tuple(headers), bytes(body), self._clock.monotonic())
        entries.move_to_end(key)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)
        return True

    def lookup(self, key: tuple[Hashable, ...]) -> CachedResponse | None:
        """The last good response for ``key`` if it is at most ``max_age_s`` old."""
        entries = self._entries
        entry = entries.get(key)
        if entry is None:
            return None
        if self._clock.monotonic() - entry.stored_at > self._config.max_age_s:
            del entries[key]
            return None
        entries.move_to_end(key)
        return entry

    def choose(self, key: tuple[Hashable, ...]) -> CachedResponse | None:
        """The fallback answer for ``key``: the last good one, else the configured default,
        else None (let the error through). None whenever fallback is off."""
        config = self._config
        if not config.enabled:
            return None
        if config.serve_last_good:
            entry = self.lookup(key)
            if entry is not None:
                return entry
        return default_response(config, self._clock.monotonic())


def default_response(config: FallbackConfig, now: float = 0.0) -> CachedResponse | None:
    """The configured canned answer, or None if neither a status nor a body is set."""
    if config.default_status is None and config.default_body is None:
        return None
    status = config.default_status if config.default_status is not None else 200
    if config.default_body is None:
        return CachedResponse(status, (), b"", now)
    return CachedResponse(status, _JSON_HEADERS, config.default_body.encode("utf-8"), now)
