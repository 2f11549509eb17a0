"""A port base for an experiment's own topology, held with the same file locks the test
suite uses (``tests/conftest.py``), so an experiment and a test run never pick the same
ports. A base is ``base .. base+999`` (``PortPlan.from_base``)."""
from __future__ import annotations

import fcntl
import tempfile
from pathlib import Path
from typing import IO

from gatemesh.runner.preflight import port_in_use
from gatemesh.topology import PortPlan

LOCK_DIR = Path(tempfile.gettempdir()) / "gatemesh-port-locks"  # shared with tests/conftest.py
PREFERRED_BASES = tuple(range(29000, 19999, -1000))   # from the top, where the tests look last


class PortBaseLock:
    """Holds one port base until ``release()``."""

    def __init__(self, base: int, handle: IO[str]) -> None:
        self.base = base
        self._handle = handle

    def release(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> "PortBaseLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _free(base: int) -> bool:
    plan = PortPlan.from_base(base)
    probe = [*plan.fixed_ports().values(), *range(plan.range_start, plan.range_start + 64)]
    return not any(port_in_use(plan.host, p) for p in probe)


def acquire(base: int | None = None) -> PortBaseLock:
    """Lock ``base`` (or the first free preferred one); RuntimeError with a sentence if none is free."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for candidate in ([base] if base is not None else PREFERRED_BASES):
        handle = open(LOCK_DIR / f"{candidate}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        if _free(candidate):
            return PortBaseLock(candidate, handle)
        handle.close()
    if base is not None:
        raise RuntimeError(f"port base {base} is locked by another gatemesh run or has a port in use; "
                           "pick another --port-base")
    raise RuntimeError(f"no free port base among {', '.join(map(str, PREFERRED_BASES))}; "
                       "pass a free one with --port-base")
