"""Back to a fresh demo in about a second, without a restart: every fault removed (paused
processes resumed, killed ones restarted), instance counts back to the run's, every
policy at both placements back to the defaults, and every proxy's breakers, ejections,
retry budgets and fallback caches cleared."""

from __future__ import annotations

import argparse

from gatemesh.faults import FaultError
from gatemesh.policy_client import PolicyClientError
from gatemesh.runner.errors import RunnerError
from gatemesh.workshop import LabContext, LabError, reset_all

from ._common import CliError, add_name_argument

HELP = "back to a fresh demo: faults, policies, breakers, ejections, counts"
ORDER = 45


def configure(p: argparse.ArgumentParser) -> None:
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    try:
        ctx = LabContext(args.name)
        try:
            report = reset_all(ctx)
        finally:
            ctx.close()
    except (LabError, FaultError, PolicyClientError, RunnerError) as exc:
        raise CliError(str(exc)) from None
    print("gatemesh: " + report.sentence())
    return 1 if report.unclean else 0
