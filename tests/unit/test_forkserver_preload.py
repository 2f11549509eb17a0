"""What the fork server imports before it forks (gatemesh/runner/forkserver.py) must not read
the environment at import: the components inherit those modules already imported, so a value
read then would be the runner's, never the component's own (its env is set after the fork).

Checked in a fresh pure-Python interpreter (compiled modules run no Python frames to see)
whose `os.environ` records who reads it; only reads from this repository's code count,
libraries' own import-time switches (aiohttp's, OpenTelemetry's) are theirs to make."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gatemesh.runner.preflight import REPO_ROOT

PROBE = r"""
import importlib, json, os, sys, traceback

ROOT, EXTRA_ROOT = sys.argv[1], sys.argv[2]
EXTRA = (os.path.join(EXTRA_ROOT, ""),) if EXTRA_ROOT else ()
OURS = tuple(os.path.join(ROOT, d, "") for d in ("gatemesh", "gateway", "mesh", "services")) + EXTRA
reads = []

class Recording(type(os.environ)):
    def _note(self, key):
        for frame, _ in traceback.walk_stack(sys._getframe(2)):
            path = frame.f_code.co_filename
            if path.startswith(OURS) and frame.f_code.co_name == "<module>":
                base = EXTRA_ROOT if EXTRA and path.startswith(EXTRA) else ROOT
                reads.append([key, os.path.relpath(path, base), frame.f_lineno])
                return
    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)
    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)

env = os.environ
env.__class__ = Recording
from gatemesh.runner.forkserver import PRELOAD  # noqa: E402

failed = []
for name in PRELOAD:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append([name, str(exc)])
print(json.dumps({"reads": reads, "failed": failed, "count": len(PRELOAD)}))
"""


# Read at import on purpose: whether the hot path runs compiled is decided once, by the fork
# server, for every component it forks (gatemesh/compiled/__init__.py).
ALLOWED = {("GATEMESH_COMPILED", "gatemesh/__init__.py")}


def _probe(*extra_modules: str, extra_root: str = "") -> dict:
    """Import PRELOAD (and `extra_modules`, found on `extra_root`) in a fresh interpreter."""
    env = dict(
        os.environ, GATEMESH_COMPILED="0", PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), extra_root]))
    )
    probe = PROBE.replace("PRELOAD  # noqa: E402", f"PRELOAD  # noqa: E402\nPRELOAD = (*PRELOAD, *{extra_modules!r})")
    out = subprocess.run(
        [sys.executable, "-c", probe, str(REPO_ROOT), extra_root],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def preloaded() -> dict:
    """One probe of PRELOAD for the tests that read it (each costs an interpreter and ~2 s)."""
    return _probe()


def test_nothing_the_fork_server_preloads_reads_the_environment_at_import(preloaded):
    result = preloaded
    assert result["count"] > 40
    reads = [r for r in result["reads"] if (r[0], r[1]) not in ALLOWED]
    assert reads == [], f"read at import, frozen with the fork server's environment: {reads}"


def test_every_component_library_it_preloads_exists(preloaded):
    """A renamed module would silently drop out of the preload (an ImportError skips an
    optional library); ours are never optional."""
    result = preloaded
    ours = [name for name, _ in result["failed"] if name.split(".")[0] in ("gatemesh", "gateway", "mesh", "services")]
    assert ours == []


def test_the_probe_sees_a_module_level_read(tmp_path):
    """The check can fail: a module that reads os.environ at import is reported, by line."""
    (tmp_path / "reads_env_at_import.py").write_text('import os\nVALUE = os.environ.get("GATEMESH_PROBE", "x")\n')
    result = _probe("reads_env_at_import", extra_root=str(tmp_path))
    assert ["GATEMESH_PROBE", "reads_env_at_import.py", 2] in result["reads"]


def test_the_tracing_rehearsal_exports_and_leaves_one_thread():
    """The fork server forks only from a single-threaded process: the rehearsal's listener
    and the SDK's batch worker are both gone when it returns, and its export reached the
    listener (True)."""
    code = (
        "import threading\n"
        "from gatemesh.runner.rehearsal import rehearse_tracing\n"
        "ok = rehearse_tracing()\n"
        "print(ok, threading.active_count())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "1"]
