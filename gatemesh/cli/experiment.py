"""Measure a resilience pattern: the same load (Locust) and the same fault (Toxiproxy,
a killed process, a misbehaving app), with the pattern off, on at the edge (the gateway)
and on in the mesh (the sidecars). The fault is in force during the middle third of
each arm. Writes report.md, report.html, PNG charts, summary.json and the raw CSVs into
--out; `all` runs every pattern and adds the summary table.

  gatemesh experiment breaker --at both --duration 30
  gatemesh experiment all --out reports/all
  gatemesh experiment breaker --at edge --quick --check    # what CI runs
  gatemesh experiment timeout --load open --rate 40

Starts its own edge-mesh topology on a free port base (or --port-base N) and stops it
afterwards; with --name NAME it uses a running `gatemesh up --name NAME` instead and
puts its policies back when done."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gatemesh.experiment.designs import DESIGNS, PATTERNS

from ._common import CliError

HELP = "measure a pattern: the same fault with the pattern off, at the edge, in the mesh"
ORDER = 70


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples one per line
    p.add_argument(
        "pattern", metavar="PATTERN", choices=[*PATTERNS, "all"], help=f"one of: {', '.join(PATTERNS)}, or all"
    )
    p.add_argument(
        "--at",
        choices=("edge", "mesh", "both"),
        default="both",
        help="where the pattern-on arm puts the pattern (default both: two arms)",
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help="seconds per arm (default 30, --quick 12); the fault is the middle third",
    )
    p.add_argument("--users", type=int, metavar="N", help="Locust users (default 10, --quick 6)")
    p.add_argument(
        "--load",
        choices=("closed", "open"),
        default="closed",
        help="closed loop (Locust's usual) or open loop (constant arrival rate, --rate)",
    )
    p.add_argument("--rate", type=float, default=30.0, metavar="R", help="open loop: requests per second (default 30)")
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="where to write the report (default .gatemesh/experiments/PATTERN-TIME)"
    )
    p.add_argument("--quick", action="store_true", help="short arms (12 s, 6 users): a smoke test, as in CI")
    p.add_argument(
        "--check", action="store_true", help="exit 1 unless every pattern-on arm is measurably better than the off arm"
    )
    p.add_argument("--port-base", type=int, metavar="N", help="port base of the own topology (default: a free one)")
    p.add_argument("--name", metavar="NAME", help="use the running `gatemesh up --name NAME` topology instead")


def run(args: argparse.Namespace) -> int:
    import sys

    from gatemesh.experiment.lab import Lab, LabError
    from gatemesh.experiment.run import (
        DEFAULT_DURATION_S,
        DEFAULT_USERS,
        QUICK_DURATION_S,
        QUICK_USERS,
        ExperimentError,
        Options,
        ProgressLine,
        command_line,
        preload_charts,
        run_all,
        run_experiment,
    )
    from gatemesh.faults import FaultError

    duration = args.duration or (QUICK_DURATION_S if args.quick else DEFAULT_DURATION_S)
    users = args.users or (QUICK_USERS if args.quick else DEFAULT_USERS)
    if duration < 6:
        raise CliError(f"--duration must be at least 6 seconds (the fault is the middle third), got {duration:g}")
    if users < 1:
        raise CliError(f"--users must be at least 1, got {users}")
    if args.load == "open" and args.rate <= 0:
        raise CliError(f"--rate must be a positive number of requests per second, got {args.rate:g}")
    options = Options(
        at=args.at, duration_s=duration, users=users, arrival_rate=args.rate if args.load == "open" else 0.0
    )
    out = args.out or Path(".gatemesh") / "experiments" / f"{args.pattern}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = out.resolve()
    command = command_line(sys.argv[1:]) if sys.argv[1:2] == ["experiment"] else f"gatemesh experiment {args.pattern}"
    progress = ProgressLine()
    started = time.monotonic()
    preload_charts()
    saved = None
    try:
        if args.name:
            lab = Lab.attach(args.name)
            saved = lab.read_policies()
            progress.say(f"gatemesh: using the running topology {args.name!r} at {lab.gateway}")
        else:
            progress.say("gatemesh: starting an edge-mesh topology for the experiment ...")
            lab = Lab.start(args.port_base, progress=lambda m: None)
            progress.say(
                f"gatemesh: topology up at {lab.gateway} (ports {lab.port_base}..{(lab.port_base or 0) + 999}) "
                f"in {time.monotonic() - started:.0f}s"
            )
    except (LabError, RuntimeError) as e:
        raise CliError(str(e)) from None
    try:
        if args.pattern == "all":
            result = run_all(lab, options, out, progress, command)
            ok = result["all_better"]
        else:
            summary = run_experiment(lab, DESIGNS[args.pattern], options, out, progress, command)
            ok = summary["verdict"]["all_better"]
    except (ExperimentError, LabError, FaultError) as e:
        raise CliError(f"the experiment stopped: {e}") from None
    finally:
        progress.clear()
        try:
            lab.faults.reset()
            if saved is not None:
                lab.restore_policies(saved)
        except Exception as e:  # noqa: BLE001 - report, then still stop the topology
            print(f"gatemesh: warning: could not clean up the topology: {e}", file=sys.stderr)
        lab.close()
    wall = time.monotonic() - started
    print(f"gatemesh: report in {out / 'report.md'} (and report.html), {wall / 60:.1f} min")
    if args.check and not ok:
        print(
            "gatemesh: check failed: a pattern-on arm was not measurably better than the off arm "
            "(see the report's Result line)",
            file=sys.stderr,
        )
        return 1
    return 0
