"""Running a topology as local processes.

- ``ProcessRunner`` (``process_runner.py``): start/stop/fault/scale one topology, in-process.
- ``supervisor`` (``python -m gatemesh.runner.supervisor``): a detached process that owns a
  ``ProcessRunner`` for the CLI and serves a small control API on loopback.
- ``state.py``: where a named run keeps its state (``.gatemesh/run/<name>/``).
"""

from .errors import RunnerError
from .preflight import check_ports, find_toxiproxy
from .process_runner import ProcessRunner

__all__ = ["ProcessRunner", "RunnerError", "check_ports", "find_toxiproxy"]
