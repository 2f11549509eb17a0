"""Soak a topology: steady traffic through the gateway for a bounded time (with a short
Toxiproxy latency window every minute), sampling RSS and open files of every process,
then the table per process kind (Toxiproxy, control plane, gateway, sidecars, apps, the
dashboard) from
start to end, and which ones still grow.

  gatemesh soak --duration 600                # ten minutes at 40 req/s
  gatemesh soak --duration 120 --rate 80 --interval 5 --json soak.json
  gatemesh soak --duration 600 --no-latency   # steady traffic only

Starts its own edge-mesh topology on a free port base (or --port-base N) and stops it
afterwards. Exits 0 unless a kind's RSS or fds grew by more than 25 % and were still
rising at the end."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from gatemesh.nemesis.run import start_topology
from gatemesh.nemesis.soak import soak, table
from gatemesh.runner import portlock

from ._common import CliError

HELP = "steady load for a bounded time; RSS and fds per process kind, start to end"
ORDER = 76
MAX_DURATION_S = 24 * 3600.0


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--duration", type=float, default=600.0, metavar="S", help="seconds (default 600, at most a day)")
    p.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between samples (default 10)")
    p.add_argument("--rate", type=float, default=40.0, metavar="R", help="requests per second (default 40)")
    p.add_argument("--no-latency", action="store_true", help="no latency windows, steady traffic only")
    p.add_argument("--port-base", type=int, metavar="N", help="run the topology on N..N+999 (default: a free base)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the whole report here")


def run(args: argparse.Namespace) -> int:
    if not 0 < args.duration <= MAX_DURATION_S or not 0 < args.interval <= args.duration:
        raise CliError(
            f"--duration must be in (0, {MAX_DURATION_S:.0f}] seconds and --interval in (0, --duration], "
            f"got {args.duration:g} and {args.interval:g}"
        )
    if not 0 < args.rate <= 2000:
        raise CliError(f"--rate must be in (0, 2000] requests per second, got {args.rate:g}")
    try:
        lock = portlock.acquire(args.port_base)
    except (RuntimeError, OSError, ValueError) as e:
        raise CliError(f"no port base for the soak topology: {e}") from None
    run_dir = Path(tempfile.mkdtemp(prefix="gatemesh-soak-"))
    runner = None
    try:
        print(f"soak: starting edge-mesh on port base {lock.base} ...", flush=True)
        runner = start_topology(lock.base, run_dir, dashboard=True)
        report = soak(
            runner,
            args.duration,
            args.interval,
            args.rate,
            latency_every_s=0.0 if args.no_latency else 60.0,
            say=lambda m: print(m, flush=True),
        )
    finally:
        if runner is not None:
            runner.stop()
        lock.release()
        shutil.rmtree(run_dir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(table(report))
    t = report["traffic"]
    print(
        f"soak: {report['duration_s']:.0f}s, {t['requests']} requests ({t['ok']} ok, {t['failed']} failed), "
        f"{report['latency_windows']} latency windows; "
        + (f"still growing: {', '.join(report['grows'])}" if report["grows"] else "nothing grows")
    )
    return 1 if report["grows"] else 0
