"""Will it trip? Check the policies in force against the topology and the traffic and
faults you are about to send, before you wait for a breaker that cannot open.

  gatemesh lint --fault catalog-1:error --fault catalog-2:error      (the running topology)
  gatemesh lint --fault catalog-1:latency=1000 --rate 20
  gatemesh lint --topology edge-mesh --preset hystrix --fault pricing-1:error=0.5   (no topology needed)

Faults: INSTANCE:KIND[=VALUE][,jitter=MS][,for=S][,status=CODE], KIND one of latency
(=ms), timeout, reset_peer, down, error (=share of calls), kill, pause. Exit 0 when
nothing is found, 1 when a trap is found (so a lab script can stop on it).
"""

from __future__ import annotations

import argparse
import json

from gatemesh.lint import LintError, Setup, Traffic, lint
from gatemesh.lint.spec import parse_fault
from gatemesh.policy import PolicyTable
from gatemesh.policy_client import PolicyClient, PolicyClientError
from gatemesh.presets import UnknownPreset, preset
from gatemesh.topology import TOPOLOGIES
from gatemesh.topology.counts import DEFAULT_COUNTS

from ._common import CliError, add_name_argument, control_of

HELP = "will it trip? explain the traps in the live policies for a planned fault and load"
ORDER = 55


def configure(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--fault", action="append", default=[], metavar="SPEC", help="a fault you will inject (repeat)")
    p.add_argument("--rate", type=float, default=10.0, help="product pages per second you will send (default 10)")
    p.add_argument(
        "--mesh-share",
        type=float,
        default=0.5,
        help="share of pages composed in the mesh, /api/storefront (default 0.5)",
    )
    p.add_argument("--topology", choices=sorted(TOPOLOGIES), help="lint a topology's layout without running it")
    p.add_argument("--preset", help="with --topology: the policy at every placement (default: gatemesh's defaults)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    add_name_argument(p)


def _setup(args: argparse.Namespace) -> Setup:
    try:
        faults = tuple(parse_fault(spec) for spec in args.fault)
        traffic = Traffic(args.rate, args.mesh_share)
    except LintError as exc:
        raise CliError(str(exc)) from None
    if args.topology:
        try:
            table = PolicyTable(default=preset(args.preset or "gatemesh"))
        except UnknownPreset as exc:
            raise CliError(str(exc)) from None
        placements = {"edge": table, "mesh": table}
        if args.topology == "edge":
            placements.pop("mesh")
        elif args.topology in ("mesh", "sidecar-gateway"):
            placements.pop("edge")
        return Setup(args.topology, placements, dict(DEFAULT_COUNTS), traffic, faults)
    if args.preset:
        raise CliError("--preset goes with --topology; for a running topology the live policies are linted")
    status = control_of(args.name).status()
    client = PolicyClient.from_status(status)
    try:
        tables = {loc: client.table(loc) for loc in client.locations("both")}
    except PolicyClientError as exc:
        raise CliError(str(exc)) from None
    return Setup(status["topology"], tables, status.get("counts", dict(DEFAULT_COUNTS)), traffic, faults)


def run(args: argparse.Namespace) -> int:
    setup = _setup(args)
    unknown = sorted(
        {
            f.instance
            for f in setup.faults
            if f.service not in setup.counts or int(f.instance.rsplit("-", 1)[1] or 0) > setup.counts[f.service]
        }
    )
    if unknown:
        raise CliError(
            f"no instance named {', '.join(unknown)} in {setup.topology} "
            f"({', '.join(f'{s}-1..{n}' for s, n in setup.counts.items())})"
        )
    findings = lint(setup)
    if args.json:
        print(json.dumps([f.to_dict() for f in findings], indent=2))
    elif not findings:
        print(
            f"gatemesh lint: no traps for {setup.topology} with {len(setup.faults)} fault(s) at "
            f"{setup.traffic.rate_per_s:g} pages/s"
        )
    else:
        for finding in findings:
            print(finding)
        print(f"gatemesh lint: {len(findings)} finding(s)")
    return 1 if findings else 0
