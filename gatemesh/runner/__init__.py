"""Running a topology as local processes.

- ``ProcessRunner`` (``process_runner.py``): start/stop/fault/scale one topology, in-process.
- ``supervisor`` (``python -m gatemesh.runner.supervisor``): a detached process that owns a
  ``ProcessRunner`` for the CLI and serves a small control API on loopback.
- ``state.py``: where a named run keeps its state (``.gatemesh/run/<name>/``).

The names below are imported when first used (PEP 562), not with the package: the fork
server (``python -m gatemesh.runner.forkserver``) imports this package first, and the
runner's own modules (the topology, the Toxiproxy client, ``requests``) would add ~160
modules and ~0.2 s of CPU to the imports on every start-up's critical path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import RunnerError
    from .preflight import check_ports, find_toxiproxy
    from .process_runner import ProcessRunner

__all__ = ["ProcessRunner", "RunnerError", "check_ports", "find_toxiproxy"]
_WHERE = {
    "ProcessRunner": ".process_runner",
    "RunnerError": ".errors",
    "check_ports": ".preflight",
    "find_toxiproxy": ".preflight",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where, __name__), name)
