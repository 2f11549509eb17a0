"""The admin knobs every service has: misbehave on purpose, and count requests.

``PUT /admin/misbehave`` sets app-level faults that complement Toxiproxy's network
faults: every affected request first waits ``delay_ms``, then fails with
``error_status`` with probability ``error_rate``. ``/admin/stats`` counts the requests
this instance received so chaos tests can count calls at the instance. Neither
applies to ``/health`` or ``/admin/*`` (see ``is_exempt``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_DELAY_MS = 300_000.0  # five minutes: longer is surely a typo
MAX_COUNTED_PATHS = 1000  # distinct paths in by_path; the rest are lumped under OTHER_PATHS
OTHER_PATHS = "(other)"


def is_exempt(path: str) -> bool:
    """Paths that are never counted nor made to misbehave."""
    return path == "/health" or path == "/admin" or path.startswith("/admin/")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class MisbehaveConfig:
    error_rate: float = 0.0  # share of requests answered with error_status, 0..1
    error_status: int = 500  # the status of a deliberate failure, 400..599
    delay_ms: float = 0.0  # wait added before every affected answer, 0..MAX_DELAY_MS
    seed: int | None = None  # reseeds the random source when set, for reproducible runs

    def __post_init__(self) -> None:
        if not _is_number(self.error_rate) or not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be a number from 0 to 1, got {self.error_rate!r}")
        status = self.error_status
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError(f"error_status must be an HTTP error status 400..599, got {self.error_status!r}")
        if not _is_number(self.delay_ms) or not 0.0 <= self.delay_ms <= MAX_DELAY_MS:
            raise ValueError(
                f"delay_ms must be a number of milliseconds from 0 to {MAX_DELAY_MS:.0f}, got {self.delay_ms!r}"
            )
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError(f"seed must be an integer or null, got {self.seed!r}")

    @classmethod
    def from_json(cls, body: Any) -> MisbehaveConfig:
        """Build from a PUT body; fields left out take their defaults (PUT replaces)."""
        if not isinstance(body, dict):
            raise ValueError(
                'the body must be a JSON object such as {"error_rate": 0.5, "error_status": 503, "delay_ms": 0}'
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; the fields are {', '.join(sorted(known))}")
        return cls(**body)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Misbehaviour:
    """The current misbehave config plus the random source that applies it."""

    def __init__(
        self,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._rng = rng or random.Random()
        self._sleep = sleep
        self.config = MisbehaveConfig()

    def set(self, config: MisbehaveConfig) -> None:
        if config.seed is not None:
            self._rng.seed(config.seed)
        self.config = config

    def reset(self) -> None:
        self.config = MisbehaveConfig()

    async def apply(self) -> int | None:
        """Wait the configured delay; return the status to fail with, or None to go on."""
        config = self.config
        if config.delay_ms > 0:
            await self._sleep(config.delay_ms / 1000.0)
        if config.error_rate > 0 and self._rng.random() < config.error_rate:
            return config.error_status
        return None


class Stats:
    """Requests this instance received, by path and by answered status."""

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self.requests = 0
        self.by_path: dict[str, int] = {}
        self.by_status: dict[str, int] = {}
        # Requests that arrived carrying a client credential (X-Api-Key, Authorization): an
        # edge that checked it must not pass it on, and a test reads this to see that it did not.
        self.with_credentials = 0

    def count(self, path: str, credentials: bool = False) -> None:
        self.requests += 1
        self.with_credentials += credentials
        if path not in self.by_path and len(self.by_path) >= MAX_COUNTED_PATHS:
            path = OTHER_PATHS
        self.by_path[path] = self.by_path.get(path, 0) + 1

    def answered(self, status: int) -> None:
        key = str(status)
        self.by_status[key] = self.by_status.get(key, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_path": dict(self.by_path),
            "by_status": dict(self.by_status),
            "with_credentials": self.with_credentials,
        }

    def reset(self) -> dict[str, Any]:
        """Clear the counts and return what they were (read-and-reset loses nothing)."""
        before = self.snapshot()
        self._clear()
        return before
