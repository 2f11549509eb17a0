"""The compiled hot path is used only for exactly the sources it was built from (gatemesh/compiled).

Each check runs a fresh interpreter, since `import gatemesh` decides once per process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gatemesh import compiled

REPO = Path(__file__).resolve().parents[2]
PROBE = (
    "import gatemesh.compiled as c, gatemesh.http.server as s, gateway.app as g, mesh.sidecar.app as m;"
    "print(c.state()); print(s.__file__); print(g.__file__); print(m.__file__)"
)


def probe(cwd: Path, **env: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.splitlines()


def test_the_key_covers_every_compiled_source_and_changes_with_one_byte(tmp_path: Path) -> None:
    for package in ("gatemesh", "gateway", "mesh"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert compiled.source_key(tmp_path) == compiled.source_key(REPO)
    for module in ("gatemesh.http.server", "gateway.app", "gatemesh.patterns.breaker"):
        path = compiled.source_path(module, tmp_path)
        before = path.read_bytes()
        path.write_bytes(before + b"\n")
        assert compiled.source_key(tmp_path) != compiled.source_key(REPO), module
        path.write_bytes(before)


def test_every_listed_module_exists_and_none_is_listed_twice() -> None:
    assert len(set(compiled.MODULES)) == len(compiled.MODULES)
    for module in compiled.MODULES:
        assert compiled.source_path(module).is_file(), module


def test_state_and_what_is_loaded_agree() -> None:
    """Compiled: every probed module is an extension from the build; pure: every one is its .py."""
    state, *files = probe(REPO)
    if state.startswith("compiled"):
        build = state.removeprefix("compiled: ")
        assert all(f.startswith(build) and f.endswith(".so") for f in files), files
    else:
        assert all(f.endswith(".py") for f in files), files
    if os.environ.get("CI") == "true" and os.environ.get(compiled.ENV) != "0":
        assert state.startswith("compiled"), state  # scripts/test.sh requires the build first


def test_pure_python_when_asked() -> None:
    state, *files = probe(REPO, GATEMESH_COMPILED="0")
    assert state == "pure Python: GATEMESH_COMPILED=0"
    assert all(f.endswith(".py") and f.startswith(str(REPO)) for f in files), files


def test_an_edited_source_is_never_shadowed_by_the_build_of_the_old_one(tmp_path: Path) -> None:
    """A checkout whose hot path differs by one line from the built one runs its own Python."""
    if not compiled.active():
        pytest.skip(f"no build to be stale against: {compiled.state()}")
    for package in ("gatemesh", "gateway", "mesh"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert probe(tmp_path)[0].startswith("compiled")  # the same sources elsewhere: the same build
    server = compiled.source_path("gatemesh.http.server", tmp_path)
    server.write_text(server.read_text() + "\nEDITED = True\n")
    state, *files = probe(tmp_path)
    assert state.startswith("pure Python: no build of these sources"), state
    assert all(f.startswith(str(tmp_path)) and f.endswith(".py") for f in files), files
