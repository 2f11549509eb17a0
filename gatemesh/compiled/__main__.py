"""python -m gatemesh.compiled build [--force] | status [--require]

build    compile the hot path for the current sources (cached; see build.py)
status   say whether this interpreter runs it compiled, and why not; --require exits 1 if not
"""

from __future__ import annotations

import argparse
import sys

from . import state


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gatemesh.compiled", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="compile the hot path for the current sources (cached)")
    b.add_argument("--force", action="store_true", help="build again even when a build of these sources exists")
    b.add_argument("--jobs", type=int, default=2, help="C compiler processes (default 2)")
    s = sub.add_parser("status", help="compiled or pure Python, and why")
    s.add_argument("--require", action="store_true", help="exit 1 unless the compiled modules are in use")
    a = p.parse_args(argv)
    if a.command == "build":
        from .build import BuildError, build

        try:
            out = build(force=a.force, jobs=a.jobs)
        except BuildError as exc:
            print(f"compiled: error: {exc}", file=sys.stderr)
            return 1
        print(f"compiled: {out}")
        return 0
    print(state())
    return 0 if (not a.require or state().startswith("compiled")) else 1


if __name__ == "__main__":
    sys.exit(main())
