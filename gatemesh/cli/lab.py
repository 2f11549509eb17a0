"""Workshop labs that check themselves.

  gatemesh lab list              the labs, their pages and timings
  gatemesh lab start N           reset everything, then set up lab N's starting state
  gatemesh lab hint [N]          the step to take and where to look
  gatemesh lab check [N]         measure: a short fault and load, pass or fail with the numbers
  gatemesh lab reset             back to a fresh demo (the same as `gatemesh reset`)

N defaults to the lab last started. `check` exits 0 on pass, 1 on fail.
"""

from __future__ import annotations

import argparse
import json

from gatemesh.faults import FaultError
from gatemesh.policy_client import PolicyClientError
from gatemesh.runner.errors import RunnerError
from gatemesh.runner.state import run_dir
from gatemesh.workshop import LABS, LabContext, LabError, lab, reset_all

from ._common import CliError, add_name_argument

HELP = "workshop labs: list, start N, hint, check, reset"
ORDER = 60
LAB_FILE = "lab.json"  # in the run's directory: the lab last started


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("action", choices=["list", "start", "hint", "check", "reset"])
    p.add_argument("number", nargs="?", type=int, help="the lab (default: the one last started)")
    add_name_argument(p)


def _current(name: str, number: int | None) -> int:
    if number is not None:
        return number
    try:
        return int(json.loads((run_dir(name) / LAB_FILE).read_text())["lab"])
    except (OSError, ValueError, KeyError):
        raise CliError(
            "no lab started yet: name one (gatemesh lab check 2) or start one (gatemesh lab start 1)"
        ) from None


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        width = max(len(item.title) for item in LABS)
        for item in LABS:
            print(f"{item.number:>2}  {item.title:<{width}}  {item.minutes:>3} min  {item.page}")
        return 0
    try:
        return _act(args)
    except (LabError, FaultError, PolicyClientError, RunnerError) as exc:
        raise CliError(str(exc)) from None


def _act(args: argparse.Namespace) -> int:
    if args.action == "hint":
        item = lab(_current(args.name, args.number))
        print(f"lab {item.number}: {item.title} — {item.goal}\n  the step:")
        for command in item.step:
            print(f"    .venv/bin/{command}")
        print(f"  look: {item.hint}\n  page: {item.page}")
        return 0
    if args.action == "start":
        _require(args.number)
    ctx = LabContext(args.name)
    try:
        if args.action == "reset":
            print("gatemesh: " + reset_all(ctx).sentence())
            return 0
        if args.action == "start":
            item = lab(_require(args.number))
            report = reset_all(ctx)
            item.start(ctx)
            (run_dir(args.name) / LAB_FILE).write_text(json.dumps({"lab": item.number}))
            print(
                f"lab {item.number}: {item.title} — ready ({report.sentence()})\n  read {item.page}, "
                f"then: .venv/bin/gatemesh lab check"
            )
            return 0
        item = lab(_current(args.name, args.number))
        result = item.check(ctx)
        print(f"lab {item.number}: {result}")
        return 0 if result.passed else 1
    finally:
        ctx.close()


def _require(number: int | None) -> int:
    if number is None:
        raise CliError(f"which lab? gatemesh lab start N, N from 1 to {len(LABS)} (gatemesh lab list)")
    return number
