"""``gatemesh mtls [strict|permissive|off]``: every sidecar's inbound mTLS mode, live.

Without a mode it shows, per sidecar, the mode, the workload identity, how many inbound
connections were mTLS, plain or refused, and when the leaf expires. With one it switches
every sidecar (``PUT /-/mtls`` on its app-local port, which strict mode leaves plain).
A sidecar started with ``--mtls off`` has no identity and cannot be switched: start the
topology with ``gatemesh up --mtls permissive`` first.
"""

from __future__ import annotations

import argparse
from typing import Any

from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.security.tls import MODES

from ._common import CliError, add_name_argument, control_of

HELP = "show or switch mutual TLS between the proxies (strict | permissive | off)"
ORDER = 47


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("mode", nargs="?", choices=MODES, help="switch every sidecar to this mode (omit to show)")
    add_name_argument(p)


def sidecars(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (i["name"], i["health"].rsplit("/health", 1)[0])
        for i in status.get("instances", [])
        if i.get("kind") == "sidecar" and i.get("alive", True) and i.get("health")
    ]


def run(args: argparse.Namespace) -> int:
    targets = sidecars(control_of(args.name).status())
    if not targets:
        raise CliError("this topology has no sidecars, so there is no mesh mTLS to show or switch")
    failed = 0
    for name, base in targets:
        try:
            if args.mode:
                doc = json_request("PUT", base + "/-/mtls", {"mode": args.mode}, timeout_s=5.0)
            else:
                doc = json_request("GET", base + "/-/mtls", timeout_s=5.0)
        except (OSError, HttpError) as exc:
            failed += 1
            print(f"  {name:<24} cannot switch: {exc}")
            continue
        conns = doc.get("connections") or {}
        counts = ", ".join(f"{k} {v}" for k, v in conns.items()) or "-"
        expires = f", leaf expires in {doc['expires_in_s']:g}s" if "expires_in_s" in doc else ""
        print(
            f"  {name:<24} {doc.get('mode'):<10} {doc.get('identity') or '(no identity)'}  inbound: {counts}{expires}"
        )
    if args.mode:
        print(f"gatemesh: {len(targets) - failed} of {len(targets)} sidecars now {args.mode}")
    return 1 if failed else 0
