"""``python -m gatemesh.compose``: the compose files, rendered from the topology definitions.

python -m gatemesh.compose render --topology edge-mesh      # the compose file, to stdout
python -m gatemesh.compose write                            # every topology's files into compose/
python -m gatemesh.compose check                            # exit 1 if compose/ and the definitions differ
python -m gatemesh.compose render --check                   # the same
python -m gatemesh.compose test-override --topology edge-mesh  # = compose/edge-mesh.test.yml, to stdout
python -m gatemesh.compose wait --topology edge-mesh [--project gatemesh-edge-mesh] [--timeout-s 180]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from gatemesh.topology import DEFAULT_TOPOLOGY, TOPOLOGIES, TopologyError, build_topology

from .check import compare
from .project import ProjectError
from .render import compose_file, default_dir, publish_override, render, render_all

PROG = "gatemesh.compose"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog=f"python -m {PROG}", description="gatemesh's docker compose files, from the topology definitions.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    topo: dict[str, Any] = dict(choices=list(TOPOLOGIES), default=DEFAULT_TOPOLOGY, help=f"default {DEFAULT_TOPOLOGY}")
    where: dict[str, Any] = dict(
        type=Path, default=None, help="the compose folder (default: compose/ of this checkout)"
    )
    r = sub.add_parser("render", help="print one topology's compose file")
    r.add_argument("--topology", **topo)
    r.add_argument("--check", action="store_true", help="compare every committed file instead; exit 1 on drift")
    r.add_argument("--dir", **where)
    w = sub.add_parser("write", help="write the compose and config files of every topology (or one)")
    w.add_argument("--topology", choices=list(TOPOLOGIES), default=None)
    w.add_argument("--dir", **where)
    c = sub.add_parser("check", help="exit 1 when a committed file differs from its rendering")
    c.add_argument("--dir", **where)
    o = sub.add_parser(
        "test-override", help="print the tests' override: the control plane, Toxiproxy, every instance port"
    )
    o.add_argument("--topology", **topo)
    t = sub.add_parser("wait", help="wait until a running compose topology is healthy and registered")
    t.add_argument("--topology", **topo)
    t.add_argument("--project", default=None, help="compose project (default: found by the topology label)")
    t.add_argument("--timeout-s", type=float, default=180.0)
    return p.parse_args(argv)


def check(directory: Path) -> int:
    drifts = compare(render_all(), directory)
    for d in drifts:
        print(f"{PROG}: drift: {d}", file=sys.stderr)
    if drifts:
        return 1
    print(f"{PROG}: {directory}: every compose file matches its topology definition")
    return 0


def write(directory: Path, topology: str | None) -> int:
    files = render(build_topology(topology)) if topology else render_all()
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"{PROG}: wrote {path}")
    return 0


def wait(topology: str, project: str | None, timeout_s: float) -> int:
    from .project import ComposeProject

    t0 = time.monotonic()
    cp = ComposeProject(topology, project)
    cp.wait_ready(timeout_s, progress=lambda m: print(f"{PROG}: {m}", flush=True))
    print(
        f"{PROG}: {cp.project}: every container healthy and every instance registered in {time.monotonic() - t0:.1f}s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = getattr(args, "dir", None) or default_dir()
    try:
        if args.cmd == "render":
            if args.check:
                return check(directory)
            sys.stdout.write(render(build_topology(args.topology))[compose_file(args.topology)])
            return 0
        if args.cmd == "write":
            return write(directory, args.topology)
        if args.cmd == "check":
            return check(directory)
        if args.cmd == "test-override":
            sys.stdout.write(publish_override(build_topology(args.topology)))
            return 0
        if args.cmd == "wait":
            return wait(args.topology, args.project, args.timeout_s)
    except (TopologyError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except ProjectError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
