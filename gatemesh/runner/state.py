"""Where a named run lives, and its ``state.json``.

A run named ``NAME`` keeps everything under ``<home>/.gatemesh/run/NAME/``:
``spec.json`` (what the CLI asked for), ``state.json`` (what the supervisor reports:
status, progress, endpoints, every pid it started), ``supervisor.log``, ``logs/`` (one
file per component), and the run's files (``gateway.json``, ``orders.sqlite3``).

``<home>`` is ``$GATEMESH_HOME`` if set, else the gatemesh checkout (where
``pyproject.toml`` is), else the current directory.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import RunnerError
from .preflight import REPO_ROOT

HOME_ENV = "GATEMESH_HOME"
STATE_FILE = "state.json"
SPEC_FILE = "spec.json"
SUPERVISOR_LOG = "supervisor.log"
DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def gatemesh_home() -> Path:
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).resolve()
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT
    return Path.cwd()


def runs_root() -> Path:
    return gatemesh_home() / ".gatemesh" / "run"


def run_dir(name: str) -> Path:
    if not _NAME.match(name or ""):
        raise RunnerError(f"bad run name {name!r}: use letters, digits, '.', '_' or '-' (at most 64), e.g. --name demo")
    return runs_root() / name


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic: readers see the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def read_state(directory: Path) -> dict[str, Any] | None:
    return read_json(directory / STATE_FILE)


def list_runs() -> list[str]:
    root = runs_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / STATE_FILE).is_file())
