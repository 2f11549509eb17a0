"""Change how many instances of a service run, without restarting anything else: new
instances get new ports and their own Toxiproxy proxy, and register; removed ones (the
highest-numbered) get SIGTERM and deregister."""

from __future__ import annotations

import argparse

from ._common import add_name_argument, control_of

HELP = "run N instances of a service in the running topology"
ORDER = 40


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("service", help="catalog, pricing, inventory, reviews, storefront or orders")
    p.add_argument("count", type=int, metavar="N", help="how many instances")
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
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
