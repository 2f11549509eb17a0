"""Shared fixtures: port bases per pytest-xdist worker, and running a real topology.

- ``port_base`` (session): this worker's port base; a topology on it uses
  ``base .. base+999``. Worker ``gwN`` prefers ``20000 + 1000*N`` (the master: 20000).
  A base is held with a file lock for the whole session, so concurrent pytest runs on
  one machine (another checkout, another session) never pick the same one; a base that
  is locked or has a port in use is skipped for the next free one.
- ``port_bases`` (session): the allocator itself, for a test that needs a second base.
- ``topology_factory`` (function) / ``topology_factory_module`` (module): start a
  topology with ``ProcessRunner`` in a temporary directory and stop it at teardown::

      def test_x(topology_factory):
          runner = topology_factory("edge-mesh", counts={"catalog": 2})
          runner.topology.endpoints.gateway  # http://127.0.0.1:20080

  A topology whose parts are not written yet (no such module) is skipped, never faked.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gatemesh.runner import ProcessRunner, RunnerError, portlock
from gatemesh.topology import PortPlan, build_topology

FIRST_BASE = 20000
LAST_BASE = 31000  # base+999 stays below the kernel's ephemeral range (32768..)
BASE_STEP = 1000
START_TIMEOUT_S = 90.0


def worker_index(config: pytest.Config) -> int:
    worker = getattr(config, "workerinput", {}).get("workerid", "master")
    return int(worker[2:]) if worker.startswith("gw") else 0


class PortBases:
    """Hands out whole port bases, each held with a file lock (gatemesh.runner.portlock)
    until released, starting from this worker's preferred one."""

    def __init__(self, preferred: int) -> None:
        self.preferred = preferred
        self._held: dict[int, portlock.PortBaseLock] = {}

    def acquire(self) -> int:
        candidates = list(range(FIRST_BASE, LAST_BASE + 1, BASE_STEP))
        start = candidates.index(self.preferred) if self.preferred in candidates else 0
        for base in candidates[start:] + candidates[:start]:
            if base in self._held:
                continue
            lock = portlock.try_lock(base)
            if lock is not None:
                self._held[base] = lock
                return base
        raise RuntimeError(f"no free port base between {FIRST_BASE} and {LAST_BASE}")

    def release(self, base: int) -> None:
        lock = self._held.pop(base, None)
        if lock is not None:
            lock.release()

    def release_all(self) -> None:
        for base in list(self._held):
            self.release(base)


@pytest.fixture(scope="session")
def port_bases(request: pytest.FixtureRequest) -> Iterator[PortBases]:
    bases = PortBases(FIRST_BASE + BASE_STEP * worker_index(request.config))
    yield bases
    bases.release_all()


@pytest.fixture(scope="session")
def port_base(port_bases: PortBases) -> int:
    return port_bases.acquire()


def missing_modules(topology_name: str) -> list[str]:
    """Modules a topology runs that do not exist (yet) in this checkout."""
    topology = build_topology(topology_name)
    modules = sorted({c.module for c in topology.components if c.module})
    return [m for m in modules if importlib.util.find_spec(m) is None]


@pytest.fixture(scope="session")
def require_topology() -> Callable[[str], None]:
    """``require_topology("edge")`` skips the test while a module the topology runs is missing."""

    def require(name: str) -> None:
        missing = missing_modules(name)
        if missing:
            pytest.skip(f"topology {name} needs modules not written yet: {', '.join(missing)}")

    return require


class TopologyFactory:
    """Starts topologies, one port base each, and stops them all in ``close()``."""

    def __init__(self, bases: PortBases, first_base: int, root: Path) -> None:
        self.bases = bases
        self.first_base = first_base
        self.root = root
        self.running: list[tuple[ProcessRunner, int]] = []  # (runner, its port base)

    def __call__(
        self, name: str, counts: dict[str, int] | None = None, timeout_s: float = START_TIMEOUT_S, **opts: Any
    ) -> ProcessRunner:
        missing = missing_modules(name)
        if missing:
            pytest.skip(f"topology {name} needs modules not written yet: {', '.join(missing)}")
        in_use = {base for _, base in self.running}
        base = self.first_base if self.first_base not in in_use else self.bases.acquire()
        topology = build_topology(name, PortPlan.from_base(base), counts, **opts)
        runner = ProcessRunner(topology, self.root / f"{name}-{len(self.running) + 1}")
        self.running.append((runner, base))
        try:
            runner.start(timeout_s=timeout_s)
        except RunnerError as e:
            pytest.fail(f"{name} did not start: {e}\n{e.log_tail}", pytrace=False)
        return runner

    def close(self) -> None:
        for runner, base in reversed(self.running):
            runner.stop()
            if base != self.first_base:
                self.bases.release(base)
        self.running.clear()


@pytest.fixture
def topology_factory(port_bases: PortBases, port_base: int, tmp_path: Path) -> Iterator[Callable[..., ProcessRunner]]:
    factory = TopologyFactory(port_bases, port_base, tmp_path)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def topology_factory_module(
    port_bases: PortBases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ProcessRunner]]:
    # A module-wide topology gets its own base, so function-scoped ones can run beside it.
    base = port_bases.acquire()
    factory = TopologyFactory(port_bases, base, tmp_path_factory.mktemp("topology"))
    yield factory
    factory.close()
    port_bases.release(base)


@pytest.fixture(scope="session")
def pid_alive() -> Callable[[int], bool]:
    return _pid_alive


def _pid_alive(pid: int) -> bool:
    """True for a running process (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
