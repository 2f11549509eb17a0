"""The import layering of ARCHITECTURE.md, checked on the source: gateway/ and mesh/
never import each other, services/ import nothing of gatemesh's (plain apps, as in any
mesh), gatemesh/ starts the places by command and never imports them, and there is no
import cycle among the modules: what a module imports anywhere but under TYPE_CHECKING
(a lazy import inside a function is still a dependency); `from pkg import x` needs the
submodule x when there is one, else pkg's ``__init__``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gatemesh", "gateway", "mesh", "services")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = sources()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(name: str, path: Path) -> set[str]:
    """Modules `name` imports, at its top level or inside functions (a lazy import is still
    a dependency), but not under TYPE_CHECKING (annotations only)."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node) for n in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = ".".join(base[: len(base) - node.level + 1]) if node.level else ""
            target = f"{target}.{node.module}" if target and node.module else (node.module or target)
            for a in node.names:  # `from pkg import submodule` needs the submodule, not pkg's __init__
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target)
    return found


def expand(imported: str) -> set[str]:
    return {imported} if imported in MODULES else set()


IMPORTS = {name: imports(name, path) for name, path in MODULES.items()}
GRAPH = {name: set().union(*(expand(i) for i in found)) - {name} for name, found in IMPORTS.items()}


@pytest.mark.parametrize(
    "place,forbidden",
    [
        ("gateway", "mesh"),
        ("mesh", "gateway"),
        ("services", "gatemesh"),
        ("services", "gateway"),
        ("services", "mesh"),
        ("gatemesh", "gateway"),
        ("gatemesh", "mesh"),
    ],
)
def test_a_place_never_imports_what_it_must_not(place, forbidden):
    offenders = sorted(
        f"{name} imports {imp}"
        for name, found in IMPORTS.items()
        if name.split(".")[0] == place
        for imp in found
        if imp.split(".")[0] == forbidden
    )
    assert offenders == []


def test_there_is_no_import_cycle():
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(GRAPH[m]):
            if state.get(dep) == 1:
                cycles.append(" → ".join(path[path.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert cycles == []


def test_the_graph_sees_the_imports_it_checks():
    # A guard on the checker itself: known edges are found, so an empty result means something.
    assert "gatemesh.pipeline" in GRAPH["gatemesh.shell"]
    assert "gatemesh.patterns.validate" in GRAPH["gatemesh.patterns.retry"]
    assert "gatemesh.patterns.retry" in GRAPH["gatemesh.patterns"]  # `from .retry import ...` in the __init__
    assert "gatemesh.patterns" not in GRAPH["gatemesh.patterns.retry"]  # the cycle this issue removed
