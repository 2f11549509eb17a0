"""A scripted stand-in for `gatemesh.http.client.ConnectionPool`, on a `FakeClock`.

Unit tests of the pipeline, upstream, proxy and shell use it so that every pattern's
decision is asserted in milliseconds of real time; the socket tests in
tests/integration cover the real pool. Each endpoint (by port) answers from a script:
an int is a status, an exception instance is raised, and `Slow(s, then)` takes `s`
seconds of fake time first — or raises TimeoutError after the attempt's `timeout_s`
when that is shorter, as the real pool's timer does.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from gatemesh.clock import FakeClock
from gatemesh.discovery import Endpoint
from gatemesh.http.client import ClientResponse, ConnectFailed, UpstreamReset
from gatemesh.pipeline import ResilientCaller
from gatemesh.policy import Policy, PolicyTable

__all__ = ["ConnectFailed", "FakePool", "FakeResponse", "Sent", "Slow", "UpstreamReset", "caller_with"]


@dataclass
class Slow:
    seconds: float
    then: Any = 200


@dataclass
class Sent:
    port: int
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    timeout_s: float | None
    at: float

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n == name), None)


def FakeResponse(status: int, body: bytes = b"{}", headers: list[tuple[bytes, bytes]] | None = None) -> ClientResponse:
    """A real `ClientResponse`, already complete: what the pool hands back for an answer
    that arrived whole with its head. Made without a connection (a complete answer never
    reads it), because compiled, the pipeline accepts only the real class."""
    resp = ClientResponse(None)
    resp.status = status
    resp.headers = headers if headers is not None else [(b"content-type", b"application/json")]
    resp.body = body
    resp.complete = True
    return resp


@dataclass
class FakePool:
    clock: FakeClock
    scripts: dict[int, list[Any]] = field(default_factory=dict)  # port → what its next requests get
    queue: list[Any] = field(default_factory=list)  # what the next requests get, whichever port (first)
    default: Any = 200
    sent: list[Sent] = field(default_factory=list)
    closed: bool = False

    def script(self, port: int, *outcomes: Any) -> None:
        self.scripts.setdefault(port, []).extend(outcomes)

    def next(self, *outcomes: Any) -> None:
        self.queue.extend(outcomes)

    def idle(self, host: str, port: int) -> None:
        """No idle connection: the pipeline then calls `request` (the scripted answer)."""
        return None

    async def request(
        self,
        host: str,
        port: int,
        method: bytes,
        target: bytes,
        headers,
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> ClientResponse:
        self.sent.append(Sent(port, method, target, list(headers), timeout_s, self.clock.monotonic()))
        queue = self.queue or self.scripts.get(port)
        outcome = queue.pop(0) if queue else self.default
        if isinstance(outcome, Slow):
            if timeout_s is not None and timeout_s < outcome.seconds:
                self.clock.advance(timeout_s)
                await asyncio.sleep(0)
                raise TimeoutError
            self.clock.advance(outcome.seconds)
            outcome = outcome.then
        await asyncio.sleep(0)
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, ClientResponse):
            return outcome
        return FakeResponse(outcome, b'{"port": %d}' % port)

    def ports(self) -> list[int]:
        return [s.port for s in self.sent]

    def close(self) -> None:
        self.closed = True


def caller_with(
    policy: Policy, instances: int = 3, service: str = "svc", seed: int = 7
) -> tuple[ResilientCaller, FakePool, FakeClock]:
    """A caller whose `service` has `instances` endpoints on ports 1, 2, 3, ... (ids i1, i2, ...)."""
    clock = FakeClock(100.0)
    pool = FakePool(clock)
    table = PolicyTable()
    table.set("*", policy)
    caller = ResilientCaller("test", table, clock=clock, rng=random.Random(seed), pool=pool)  # type: ignore[arg-type]
    caller.update_endpoints({service: [Endpoint(f"i{n}", "127.0.0.1", n, {}) for n in range(1, instances + 1)]})
    return caller, pool, clock
