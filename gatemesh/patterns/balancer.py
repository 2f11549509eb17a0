"""Load balancing: pick one endpoint of a service for each attempt.

- ``round_robin``: take turns. The position is a counter kept across calls and taken
  modulo the current list length (as Envoy's unweighted round robin), so the spread stays
  even when the list changes between calls (an endpoint ejected, one added, the list
  rebuilt per request): each change costs at most one uneven turn. An excluded endpoint
  (already tried by this request) is skipped and the counter moves past the endpoint
  actually picked, so the skip does not hand the next endpoint a double share.
  (Lists whose length alternates on *every* call can still skew a counter; endpoint lists
  change on events such as an ejection, not per call.)
- ``least_request``: power of two choices, as Envoy's LEAST_REQUEST with choice_count 2:
  draw two different endpoints at random, send to the one with fewer requests in flight
  (counted through ``on_start`` / ``on_end``). It steers around slow endpoints without
  the herd behaviour of "always the least loaded".

There is no ``enabled`` switch: something must pick an endpoint for every request, and
round robin is the neutral baseline a control arm compares against.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from gatemesh.patterns.validate import ConfigError

ROUND_ROBIN = "round_robin"
LEAST_REQUEST = "least_request"
KINDS = (ROUND_ROBIN, LEAST_REQUEST)


@dataclass(frozen=True, slots=True)
class BalancerConfig:
    kind: str = ROUND_ROBIN  # Envoy's default lb_policy; "least_request" = Envoy LEAST_REQUEST, choice_count 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError("balancer.kind", f"balancer.kind must be one of {', '.join(KINDS)}, got {self.kind!r}.")


class Balancer(Protocol):
    # Whether on_start/on_end do anything: the pipeline skips two calls per attempt when not
    # (round robin's are empty; a Python call costs ~1k instructions on every request).
    counts_in_flight: bool

    def pick(self, endpoints: Sequence[str], exclude: Collection[str] = ()) -> str | None:
        """One endpoint id not in ``exclude``; None when none is left."""
        ...

    def on_start(self, endpoint: str) -> None:
        """A request to ``endpoint`` went out."""
        ...

    def on_end(self, endpoint: str) -> None:
        """A request to ``endpoint`` finished (in any way)."""
        ...


class RoundRobinBalancer:
    __slots__ = ("_next",)

    kind = ROUND_ROBIN
    counts_in_flight = False  # on_start/on_end are empty

    def __init__(self, start: int = 0) -> None:
        self._next = start

    def pick(self, endpoints: Sequence[str], exclude: Collection[str] = ()) -> str | None:
        n = len(endpoints)
        if n == 0:
            return None
        count = self._next
        start = count % n
        if not exclude:
            self._next = count + 1
            return endpoints[start]
        for offset in range(n):  # O(1) unless many endpoints are excluded
            i = start + offset
            if i >= n:
                i -= n
            endpoint = endpoints[i]
            if endpoint not in exclude:
                self._next = count + offset + 1
                return endpoint
        return None

    def on_start(self, endpoint: str) -> None:
        pass

    def on_end(self, endpoint: str) -> None:
        pass


class LeastRequestBalancer:
    __slots__ = ("_rng", "_in_flight")

    kind = LEAST_REQUEST
    counts_in_flight = True

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._in_flight: dict[str, int] = {}

    def in_flight(self, endpoint: str) -> int:
        return self._in_flight.get(endpoint, 0)

    def pick(self, endpoints: Sequence[str], exclude: Collection[str] = ()) -> str | None:
        if exclude:
            endpoints = [e for e in endpoints if e not in exclude]  # only on retries
        n = len(endpoints)
        if n <= 1:
            return endpoints[0] if n else None
        rand = self._rng.random
        i = int(rand() * n)
        j = int(rand() * (n - 1))
        if j >= i:
            j += 1
        a, b = endpoints[i], endpoints[j]
        loads = self._in_flight
        return b if loads.get(b, 0) < loads.get(a, 0) else a

    def on_start(self, endpoint: str) -> None:
        loads = self._in_flight
        loads[endpoint] = loads.get(endpoint, 0) + 1

    def on_end(self, endpoint: str) -> None:
        loads = self._in_flight
        left = loads.get(endpoint, 0) - 1
        if left > 0:
            loads[endpoint] = left
        else:
            loads.pop(endpoint, None)  # forget idle endpoints: the map only holds busy ones


def make_balancer(config: BalancerConfig, rng: random.Random) -> Balancer:
    """A fresh balancer of ``config.kind``. Round robin starts at a random position so that
    many proxies do not all begin on the first endpoint in step."""
    if config.kind == LEAST_REQUEST:
        return LeastRequestBalancer(rng)
    return RoundRobinBalancer(rng.randrange(1 << 16))
