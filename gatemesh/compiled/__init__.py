"""The proxies' hot path compiled to C by mypyc, used when a build of exactly these sources exists.

Why: a request through a Python proxy is ~2,500 bytecodes in ~80 calls, and the interpreter
loop, frames and generic attribute lookups are most of its instructions (docs/performance.md).
mypyc (part of mypy, which checks this code already) turns the same typed modules into C
extensions: native classes with fixed slots, direct calls between compiled functions, unboxed
ints and bools. The modules below, unchanged, run with ~35% fewer instructions per request.

Pure Python stays the reference: the sources are the only copy of the code, every test passes
either way, and a machine without a C compiler (or ``GATEMESH_COMPILED=0``) runs exactly them.

    MODULES          what is compiled: the HTTP core, the pipeline and its patterns, the two
                     proxies' request handlers (gateway/app.py, mesh/sidecar/app.py), and the
                     small modules they call per request
    source_key()     a hash of those sources and of this interpreter (version, ABI)
    activate()       called by ``import gatemesh``: when ``<cache>/compiled/<key>/`` holds a
                     complete build, a finder on ``sys.meta_path`` serves those modules from it
    state()          what ``activate`` decided, for ``python -m gatemesh.compiled status`` and
                     the benchmark's report

A build (``python -m gatemesh.compiled build``, run by scripts/setup.sh; build.py) is keyed by
the hash, so an edited source is never shadowed by a stale binary: the key changes, no build
matches, and the edited Python runs until the next build. Nothing compiled is written into the
source tree (an in-place ``.so`` would shadow its ``.py`` even after an edit).

Left out: package ``__init__`` files (re-exports only) and everything off the per-request path.
mypyc has no async generators, so the hot path has none (``http/response.py``'s body stream is
a class).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

from ..cache import cache_dir

ENV = "GATEMESH_COMPILED"  # "0": pure Python even when a build exists
FORMAT = 1  # bumped when the layout of a build directory changes

ROOT = Path(__file__).resolve().parents[2]  # the directory holding gatemesh/, gateway/, mesh/

MODULES: tuple[str, ...] = (
    # the HTTP/1.1 core (server side, client side, the bytes both write)
    "gatemesh.http.answer",
    "gatemesh.http.client",
    "gatemesh.http.connection",
    "gatemesh.http.deadlines",
    "gatemesh.http.head",
    "gatemesh.http.limits",
    "gatemesh.http.listener",
    "gatemesh.http.messages",
    "gatemesh.http.pool",
    "gatemesh.http.reader",
    "gatemesh.http.response",
    "gatemesh.http.server",
    "gatemesh.http.stats",
    "gatemesh.http.write",
    # the patterns and the pipeline that orders them
    "gatemesh.patterns.balancer",
    "gatemesh.patterns.breaker",
    "gatemesh.patterns.budget",
    "gatemesh.patterns.concurrency",
    "gatemesh.patterns.deadline",
    "gatemesh.patterns.fallback",
    "gatemesh.patterns.healthcheck",
    "gatemesh.patterns.outlier",
    "gatemesh.patterns.panic",
    "gatemesh.patterns.retry",
    "gatemesh.patterns.validate",
    "gatemesh.pipeline",
    "gatemesh.upstream",
    "gatemesh.endpoint",
    "gatemesh.outcome",
    "gatemesh.policy",
    # the shell both proxies run in, and what it calls per request
    "gatemesh.shell",
    "gatemesh.proxy",
    "gatemesh.metrics",
    "gatemesh.reasons",
    "gatemesh.refusal",
    "gatemesh.accesslog",
    "gatemesh.tracing.config",
    "gatemesh.tracing.context",
    "gatemesh.tracing.current",
    "gatemesh.security.authz",
    "gatemesh.security.principal",
    # the two proxies' request handlers
    "gateway.app",
    "gateway.auth",
    "gateway.composition",
    "gateway.config",
    "gateway.routes",
    "mesh.sidecar.app",
)


def source_path(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def source_key(root: Path = ROOT) -> str:
    """Hash of every compiled module's source, in order, and of the interpreter that loads it.
    Reading and hashing the ~290 KB takes about a millisecond."""
    h = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{importlib.machinery.EXTENSION_SUFFIXES[0]}\0".encode())
    for module in MODULES:
        h.update(module.encode() + b"\0")
        h.update(source_path(module, root).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:24]


def cache_root() -> Path:
    """Where builds live: $GATEMESH_CACHE/compiled, else ~/.cache/gatemesh/compiled."""
    return cache_dir("compiled")


MANIFEST = "manifest.json"


class CompiledFinder:
    """Serves the compiled modules (and mypyc's shared runtime library of the build) from one
    build directory; every other import falls through to the normal finders."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, file)
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


_state = "pure Python: not activated"


def state() -> str:
    """'compiled: <dir>' or 'pure Python: <why>'."""
    return _state


def active() -> bool:
    return _state.startswith("compiled")


def activate() -> str:
    """Install the finder when a complete build of these exact sources exists; say what was decided."""
    global _state
    if any(isinstance(f, CompiledFinder) for f in sys.meta_path):
        return _state
    if os.environ.get(ENV, "1") == "0":
        _state = f"pure Python: {ENV}=0"
        return _state
    try:
        key = source_key()
    except OSError as exc:  # an install without the sources (cannot happen with pip) stays pure
        _state = f"pure Python: cannot read the sources ({exc})"
        return _state
    build = cache_root() / key
    try:
        manifest = json.loads((build / MANIFEST).read_text())
    except (OSError, ValueError):
        _state = f"pure Python: no build of these sources (run: python -m gatemesh.compiled build; key {key})"
        return _state
    files = {name: str(build / rel) for name, rel in manifest["files"].items()}
    if set(MODULES) - files.keys():
        _state = f"pure Python: the build in {build} is incomplete"
        return _state
    if any(name in sys.modules for name in MODULES):
        # imported as Python already (activate runs first in `import gatemesh`, so only a
        # caller that imported gateway/mesh modules before gatemesh): mixing would break
        # mypyc's early-bound calls between the compiled modules
        _state = "pure Python: some modules were imported before gatemesh"
        return _state
    sys.meta_path.insert(0, CompiledFinder(files))
    _state = f"compiled: {build}"
    return _state
