"""The ``gatemesh`` command line.

Each subcommand is one module in this package defining ``HELP`` (one line),
``configure(parser)`` and ``run(args) -> int``; adding a module adds a subcommand
(``ORDER`` places it in ``--help``, modules starting with ``_`` are helpers). Errors a
user can fix are raised as ``CliError``, ``RunnerError`` or ``TopologyError`` and shown as
one line, ``gatemesh: error: ...``, with a non-zero exit; never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

from gatemesh.runner import RunnerError
from gatemesh.topology import TopologyError

from ._common import CliError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"gatemesh: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def subcommands() -> list[tuple[str, ModuleType]]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "configure") and hasattr(module, "run"):
            name = getattr(module, "NAME", info.name.replace("_", "-"))
            found.append((getattr(module, "ORDER", 100), name, module))
    return [(name, module) for _, name, module in sorted(found, key=lambda x: (x[0], x[1]))]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gatemesh",
        description="gatemesh: resilience patterns at an API gateway and in a service mesh, "
        "run on your machine with real Toxiproxy faults.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
    for name, module in subcommands():
        p = sub.add_parser(name, help=module.HELP, description=(module.__doc__ or module.HELP).strip())
        module.configure(p)
        p.set_defaults(run=module.run, extra_args=getattr(module, "EXTRA_ARGS", False))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Settings may follow options (`policy set catalog --at mesh breaker.enabled=false`),
    # which argparse cannot split with subparsers; a subcommand that takes free-form
    # words says so with EXTRA_ARGS and receives the leftovers in args.args.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "extra_args", False) or any(e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args = [*args.args, *extra]
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args) or 0)
    except TopologyError as e:
        print(f"gatemesh: error: {e}", file=sys.stderr)
        return 2
    except (CliError, RunnerError) as e:
        print(f"gatemesh: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as e:  # e.g. an unwritable .gatemesh/ directory
        print(f"gatemesh: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
