"""Change how many instances of a service run, without restarting anything else: new
instances get new ports and their own Toxiproxy proxy, and register; removed ones (the
highest-numbered) get SIGTERM and deregister. ``--name k8s:<namespace>`` scales the
service's StatefulSet on a cluster instead (docs/kubernetes.md)."""

from __future__ import annotations

import argparse

from gatemesh.k8s.backend import K8S_PREFIX, K8sBackend, is_k8s_name

from ._common import add_name_argument, control_of

HELP = "run N instances of a service in the running topology"
ORDER = 40


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", help="catalog, pricing, inventory, reviews, storefront or orders")
    p.add_argument("count", type=int, metavar="N", help="how many instances")
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    if is_k8s_name(args.name):  # --name k8s:<namespace>: the StatefulSet, on a cluster
        result = K8sBackend.for_namespace(args.name[len(K8S_PREFIX) :]).scale(args.service, args.count)
    else:
        result = control_of(args.name).scale(args.service, args.count)
    changes = []
    if result.get("added"):
        changes.append("added " + ", ".join(result["added"]))
    if result.get("removed"):
        changes.append("removed " + ", ".join(result["removed"]))
    print(
        f"gatemesh: {args.service} now runs {args.count} instances"
        + (f" ({'; '.join(changes)})" if changes else " (no change)")
    )
    return 0
