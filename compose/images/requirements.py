"""Print the requirements of the gatemesh project, one a line, read from pyproject.toml.

Used twice, so that both sides agree on the list:
- on the host by build-offline.sh, to `pip wheel` them into the wheelhouse;
- inside app.Dockerfile, to install them in a layer of their own (the project's code
  changes far more often than its dependencies).

The list is: [project].dependencies, the named extras' dependencies, and the build
system's requirements (setuptools), so that the project itself can then be built
without reaching an index (`pip install --no-build-isolation`).

    python3 requirements.py PYPROJECT [EXTRA[,EXTRA...]]
"""

from __future__ import annotations

import sys
import tomllib


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise ValueError(
            f"unknown extra(s) {', '.join(unknown)}; pyproject.toml defines {', '.join(sorted(optional)) or 'none'}"
        )
    lines = list(project.get("dependencies", []))
    for extra in extras:
        lines += optional[extra]
    lines += pyproject.get("build-system", {}).get("requires", [])
    return list(dict.fromkeys(lines))  # drop repeats, keep the order


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: requirements.py PYPROJECT [EXTRA[,EXTRA...]]", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        pyproject = tomllib.load(f)
    extras = [e.strip() for e in (argv[2] if len(argv) == 3 else "").split(",") if e.strip()]
    try:
        print("\n".join(requirements(pyproject, extras)))
    except ValueError as e:
        print(f"requirements.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
