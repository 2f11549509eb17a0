"""Whole port bases (``base .. base+999``, see ``PortPlan.from_base``) held with file locks,
so topologies started by test workers, experiments and other checkouts on one machine
never pick the same ports. A base is taken only if its lock is free *and* none of its
ports is in use by anything else."""

from __future__ import annotations

import fcntl
import tempfile
from pathlib import Path
from typing import IO

from gatemesh.runner.preflight import port_in_use
from gatemesh.topology import PortPlan

LOCK_DIR = Path(tempfile.gettempdir()) / "gatemesh-port-locks"  # shared with tests/conftest.py
PREFERRED_BASES = tuple(range(29000, 19999, -1000))  # experiments: from the top, where the tests look last


class PortBaseLock:
    """Holds one port base until ``release()``."""

    def __init__(self, base: int, handle: IO[str]) -> None:
        self.base = base
        self._handle = handle

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> PortBaseLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_free(base: int) -> bool:
    plan = PortPlan.from_base(base)
    probe = [*plan.fixed_ports().values(), *range(plan.range_start, plan.range_start + 64)]
    return not any(port_in_use(plan.host, p) for p in probe)


def try_lock(base: int) -> PortBaseLock | None:
    """Lock ``base`` if nobody holds it and its ports are free, else None."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(LOCK_DIR / f"{base}.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    if is_free(base):
        return PortBaseLock(base, handle)
    handle.close()
    return None


def acquire(base: int | None = None, candidates: tuple[int, ...] = PREFERRED_BASES) -> PortBaseLock:
    """Lock ``base`` (or the first free candidate); RuntimeError with a sentence if none is free."""
    for candidate in [base] if base is not None else candidates:
        lock = try_lock(candidate)
        if lock is not None:
            return lock
    if base is not None:
        raise RuntimeError(
            f"port base {base} is locked by another gatemesh run or has a port in use; pick another --port-base"
        )
    raise RuntimeError(f"no free port base among {', '.join(map(str, candidates))}; pass a free one with --port-base")
