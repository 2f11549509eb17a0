"""``python -m gatemesh.k8s``: the Kubernetes manifests, rendered from the topology definitions.

python -m gatemesh.k8s render --topology edge-mesh                    # the committed file, to stdout
python -m gatemesh.k8s render --topology edge-mesh --namespace alice --port-base 20000 \\
    --app-image gatemesh/app:dev --toxiproxy-image gatemesh/toxiproxy:local   # placed elsewhere
python -m gatemesh.k8s write                                          # every topology into k8s/
python -m gatemesh.k8s check                                          # exit 1 if k8s/ drifted
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatemesh.topology import DEFAULT_TOPOLOGY, TOPOLOGIES, PortPlan, TopologyError, build_topology, parse_scale

from .options import K8sOptions
from .render import default_dir, default_options, drift, render_all, render_text

PROG = "gatemesh.k8s"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"python -m {PROG}", description="gatemesh's Kubernetes manifests.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="print one topology's manifests")
    r.add_argument("--topology", choices=list(TOPOLOGIES), default=DEFAULT_TOPOLOGY)
    r.add_argument("--namespace", default=None, help="default gatemesh-<topology>")
    r.add_argument("--port-base", type=int, default=None, help="PortPlan.from_base(N): one per attendee on a node")
    r.add_argument("--scale", action="append", default=[], metavar="SERVICE=N", help="instance counts")
    r.add_argument("--app-image", default=None, help="default gatemesh/app:dev")
    r.add_argument("--toxiproxy-image", default=None, help="default ghcr.io/shopify/toxiproxy:2.5.0")
    r.add_argument("--pull-policy", default=None, choices=("Always", "IfNotPresent", "Never"))
    r.add_argument("--ingress-host", default=None, help="also an Ingress for the entry, on this host name")
    for name in ("write", "check"):
        s = sub.add_parser(name, help=f"{name} every committed file")
        s.add_argument("--dir", type=Path, default=None, help="default: k8s/ of this checkout")
    return p.parse_args(argv)


def render_one(args: argparse.Namespace) -> str:
    ports = PortPlan.from_base(args.port_base) if args.port_base is not None else None
    counts = parse_scale(",".join(args.scale)) if args.scale else None
    topology = build_topology(args.topology, ports, counts)
    base = default_options(args.topology)
    options = K8sOptions(
        namespace=args.namespace or base.namespace,
        app_image=args.app_image or base.app_image,
        toxiproxy_image=args.toxiproxy_image or base.toxiproxy_image,
        pull_policy=args.pull_policy or base.pull_policy,
        ingress_host=args.ingress_host,
    )
    return render_text(topology, options)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.cmd == "render":
            sys.stdout.write(render_one(args))
            return 0
        directory = args.dir or default_dir()
        if args.cmd == "write":
            directory.mkdir(parents=True, exist_ok=True)
            for rel, text in render_all().items():
                path = directory / rel
                if not path.exists() or path.read_text() != text:
                    path.write_text(text)
                    print(f"{PROG}: wrote {path}")
            return 0
        drifts = drift(render_all(), directory)
        for d in drifts:
            print(f"{PROG}: drift: {d}", file=sys.stderr)
        if not drifts:
            print(f"{PROG}: {directory}: every manifest matches its topology definition")
        return 1 if drifts else 0
    except (TopologyError, OSError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
