"""Build the compiled hot path: mypyc over MODULES, into ``<cache>/compiled/<key>/``.

    python -m gatemesh.compiled build      (scripts/setup.sh; ~1 min on 2 cores, then cached)

mypyc type-checks the modules with mypy (the same annotations `mypy` checks in CI), writes
C, and setuptools compiles it with the machine's C compiler. The result is one extension per
module plus mypyc's shared library for the group (``gatemesh_native__mypyc``), written to a
temporary directory beside the cache and renamed into place with its manifest last, so a
half-finished build is never found by ``activate``. Builds of older sources are pruned.

mypyc and setuptools are imported here only, never by a running proxy.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from . import FORMAT, MANIFEST, MODULES, ROOT, cache_root, source_key, source_path

GROUP = "gatemesh_native"  # mypyc's shared library: <GROUP>__mypyc<ext>
KEEP = 3  # builds kept in the cache (other checkouts of the repository may use older ones)

# mypy's settings for the build. Only types matter to mypyc; the strict flags in pyproject.toml
# add checks (CI runs them), not types. Its `warn_unused_configs` would make mypyc stop on a
# note about sections for modules outside this build.
MYPY_CONFIG = """\
[mypy]
python_version = 3.11
check_untyped_defs = True
ignore_missing_imports = True
"""


class BuildError(Exception):
    """The build could not run or failed; the message is one line for the user."""


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def build(force: bool = False, jobs: int = 2) -> Path:
    """Build (or find) the compiled modules for the current sources; return their directory."""
    key = source_key()
    root = cache_root()
    out = root / key
    if (out / MANIFEST).exists() and not force:
        return out
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as exc:
        raise BuildError(f"mypyc or setuptools is missing ({exc}); pip install mypy setuptools") from exc
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    started = time.monotonic()
    try:
        (work / "mypy.ini").write_text(MYPY_CONFIG)
        files = [str(source_path(m).relative_to(ROOT)) for m in MODULES]
        args = ["--config-file", str(work / "mypy.ini"), "--cache-dir", str(work / "mypy-cache"), *files]
        try:
            with _cwd(ROOT):  # mypy names modules by their paths from here
                extensions = mypycify(
                    args, opt_level="3", multi_file=True, target_dir=str(work / "c"), group_name=GROUP
                )
            with _cwd(work):  # not the project's pyproject.toml: this is no package build
                setup(
                    name="gatemesh-compiled",
                    ext_modules=extensions,
                    script_args=[
                        "-q",
                        "build_ext",
                        "--build-lib",
                        str(work / "lib"),
                        "--build-temp",
                        str(work / "obj"),
                        "--parallel",
                        str(jobs),
                    ],
                )
        except SystemExit as exc:  # mypy's type errors and the compiler's failures end in sys.exit
            raise BuildError(f"mypyc failed ({exc}); see the messages above") from exc
        lib = work / "lib"
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        names = [*MODULES, f"{GROUP}__mypyc"]
        found = {name: str(Path(*name.split(".")).with_suffix("")) + suffix for name in names}
        missing = [name for name, rel in found.items() if not (lib / rel).exists()]
        if missing:
            raise BuildError(f"the build produced no extension for {', '.join(missing)}")
        import mypy.version

        manifest = {
            "format": FORMAT,
            "key": key,
            "python": sys.version,
            "mypy": mypy.version.__version__,
            "built_s": round(time.monotonic() - started, 1),
            "files": found,
        }
        (lib / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if out.exists():  # a forced rebuild
            shutil.rmtree(out)
        lib.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune(root, keep=out)
    return out


def prune(root: Path, keep: Path) -> None:
    """Remove all but the newest KEEP builds (and stale temporary directories)."""
    builds = sorted(
        (p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).exists()), key=lambda p: p.stat().st_mtime
    )
    for old in builds[:-KEEP]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in root.glob(".build-*"):
        if time.time() - tmp.stat().st_mtime > 3600:
            shutil.rmtree(tmp, ignore_errors=True)
