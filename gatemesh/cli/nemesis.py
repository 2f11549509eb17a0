"""Run the nemesis: a seeded schedule of faults over every kind (an orders app, its
sidecar or the control plane killed or paused; reset_peer, limit_data, latency, timeout
toxics; a disabled proxy) while a client writes orders, each retried with its own
Idempotency-Key until acknowledged; then five control-plane restarts under load; then the
exactly-once check against the orders SQLite database and GET /api/orders.

  gatemesh nemesis                       # the short run CI does: every kind once, 400 orders (~1.5 min)
  gatemesh nemesis --seed 42 --long      # the issue's: 60 faults every 3-8 s, 2000 orders (~7 min)
  gatemesh nemesis --orders 800 --steps 20 --json nemesis.json

Starts its own edge-mesh topology on a free port base (or --port-base N) in a temporary
directory and stops it afterwards. Exits 0 when exactly-once held (0 duplicated, 0 lost,
0 invented), every order was acknowledged and the restarts failed no request; else 1."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from gatemesh.nemesis.run import NemesisOptions, run_nemesis, start_topology
from gatemesh.runner import portlock

from ._common import CliError

HELP = "a seeded nemesis on the orders path, then the exactly-once check"
ORDER = 75


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--seed", type=int, default=1, help="the schedule's seed (default 1): same seed, same faults")
    p.add_argument("--long", action="store_true", help="the long run: 60 faults every 3-8 s, 2000 orders")
    p.add_argument("--steps", type=int, metavar="N", help="number of faults (default: every kind once; --long 60)")
    p.add_argument("--orders", type=int, metavar="N", help="orders to write (default 400; --long 2000)")
    p.add_argument("--restarts", type=int, metavar="N", help="control-plane restarts under load afterwards (default 5)")
    p.add_argument("--port-base", type=int, metavar="N", help="run the topology on N..N+999 (default: a free base)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the whole report here")


def options_from(args: argparse.Namespace) -> NemesisOptions:
    options = NemesisOptions.long(args.seed) if args.long else NemesisOptions(seed=args.seed)
    changes = {
        k: v for k, v in (("steps", args.steps), ("orders", args.orders), ("restarts", args.restarts)) if v is not None
    }
    try:
        return replace(options, **changes)
    except ValueError as e:
        raise CliError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    try:
        lock = portlock.acquire(args.port_base)
    except (RuntimeError, OSError, ValueError) as e:
        raise CliError(f"no port base for the nemesis topology: {e}") from None
    run_dir = Path(tempfile.mkdtemp(prefix="gatemesh-nemesis-"))
    say = lambda m: print(m, flush=True)  # noqa: E731
    runner = None
    try:
        say(f"nemesis: starting edge-mesh on port base {lock.base} ...")
        runner = start_topology(lock.base, run_dir)
        report = run_nemesis(runner, options, say)
    finally:
        if runner is not None:
            runner.stop()
        lock.release()
        shutil.rmtree(run_dir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    c, cl = report["check"], report["client"]
    verdict = "held" if report["ok"] else "VIOLATED"
    print(
        f"nemesis seed {report['seed']}: exactly-once {verdict}: {cl['orders']} orders, {c['duplicated']} duplicated, "
        f"{c['lost']} lost, {c['invented']} invented, {cl['unacknowledged']} unacknowledged; "
        f"{cl['failed_attempts']} failed attempts; restarts: "
        f"{(report['restarts'] or {}).get('failed', 0)} failed requests ({report['wall_s']:.0f}s)"
    )
    return 0 if report["ok"] else 1
