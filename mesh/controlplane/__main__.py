"""``python -m mesh.controlplane --port P (--credentials FILE | --open) [--host 127.0.0.1] ...``

``--credentials`` names the run's credentials file (``gatemesh.security.credentials``;
created, 0600, when it does not exist yet): every write then needs the admin token or the
writing instance's own bootstrap token. ``--open`` leaves writes unauthenticated, for a
throwaway control plane in a test; one of the two must be said. ``--allow-network``,
``--allow-host`` and ``--forbid-address`` set which addresses may be registered
(``admission.py``); the control plane's own address is always forbidden.

Serves until SIGTERM/SIGINT, then releases parked long-polls and exits 0. A bad argument
(or a port already in use) prints one line to stderr and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from gatemesh.security import credentials as run_credentials
from gatemesh.security.ca import CA_FILE, DEFAULT_LEAF_LIFETIME_S, LEAF_LIFETIME_ENV, CertificateAuthority, Root
from gatemesh.security.jwt import ISSUER_FILE, Issuer
from mesh.controlplane.admission import LOOPBACK, AddressRules
from mesh.controlplane.api import MAX_WAIT_S
from mesh.controlplane.app import DEFAULT_SWEEP_INTERVAL_S, make_app
from mesh.controlplane.persistence import StateFile
from mesh.controlplane.registry import Registry
from mesh.controlplane.store import Store

PROG = "controlplane"
log = logging.getLogger("gatemesh.controlplane")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        print(f"{PROG}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"port {text!r} must be a whole number between 1 and 65535")
    return int(text)


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"sweep interval {text!r} must be seconds in (0, 60]")
    return value


def _max_wait(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"max wait {text!r} must be seconds in (0, {MAX_WAIT_S:g}]")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(
        prog="python -m mesh.controlplane", description="gatemesh control plane: registry, policies, API management."
    )
    p.add_argument("--port", type=_port, required=True, help="port to listen on")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--sweep-interval-s",
        type=_interval,
        default=DEFAULT_SWEEP_INTERVAL_S,
        help=f"how often lapsed TTLs are removed (default {DEFAULT_SWEEP_INTERVAL_S}s)",
    )
    p.add_argument(
        "--state-file", default=None, help="keep mesh policies and API management in this JSON file across restarts"
    )
    p.add_argument(
        "--warmup-s",
        type=float,
        default=0.0,
        help="after a start, answer snapshot watches with 503 for this long so proxies keep "
        "their last known endpoints while instances re-register (default 0: off)",
    )
    p.add_argument(
        "--max-wait-s",
        type=_max_wait,
        default=MAX_WAIT_S,
        help=f"longest snapshot long-poll a client may ask for (default {MAX_WAIT_S:g}s)",
    )
    trust = p.add_mutually_exclusive_group(required=True)
    trust.add_argument(
        "--credentials", default=None, help="the run's credentials file (created 0600 if missing): writes need a token"
    )
    trust.add_argument("--open", action="store_true", help="accept writes without a credential (throwaway tests only)")
    p.add_argument(
        "--allow-network",
        action="append",
        default=None,
        help=f"a CIDR block registrations may point into (repeatable; default {', '.join(LOOPBACK)})",
    )
    p.add_argument("--allow-host", action="append", default=[], help="a hostname registrations may name (repeatable)")
    p.add_argument(
        "--forbid-address",
        action="append",
        default=[],
        help="host:port that may never be registered, e.g. the Toxiproxy API (repeatable)",
    )
    p.add_argument(
        "--leaf-lifetime-s",
        type=float,
        default=float(os.environ.get(LEAF_LIFETIME_ENV, DEFAULT_LEAF_LIFETIME_S)),
        help=f"how long a workload certificate lasts (default ${LEAF_LIFETIME_ENV}, else "
        f"{DEFAULT_LEAF_LIFETIME_S:g}: Linkerd's 24 h)",
    )
    return p.parse_args(argv)


def trust(args: argparse.Namespace) -> tuple[Any, ...]:
    """(credentials, address rules, JWT signing keys, CA) as the flags ask; ValueError with a sentence."""
    creds = issuer = None
    ca = CertificateAuthority([Root.generate(1)], None, args.leaf_lifetime_s)
    if args.credentials:
        creds = run_credentials.ensure(Path(args.credentials))
        issuer = Issuer.ensure(Path(args.credentials).parent / ISSUER_FILE)  # the keys outlive a restart
        ca = CertificateAuthority.ensure(Path(args.credentials).parent / CA_FILE, args.leaf_lifetime_s)
    forbidden = (*args.forbid_address, f"{args.host}:{args.port}")
    rules = AddressRules(tuple(args.allow_network or LOOPBACK), tuple(args.allow_host), forbidden)
    return creds, rules, issuer, ca


def system_clock():
    try:
        from gatemesh.clock import SystemClock
    except ImportError:
        return time  # anything with .monotonic() will do
    return SystemClock()


async def serve(args: argparse.Namespace) -> int:
    try:
        creds, rules, issuer, ca = trust(args)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    store = Store(Registry(system_clock()))
    store.max_wait_s = args.max_wait_s
    restarted = True  # without a state file we cannot tell: assume proxies may hold snapshots
    restored = 0
    if args.state_file:
        state = StateFile(args.state_file)
        try:
            saved = state.load()
        except ValueError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        restarted = saved.existed
        store.policies, store.apimgmt = saved.policies, saved.apimgmt
        restored = store.restore(saved.registrations, saved.services)
        if restored:
            log.info("restored %d registration(s) from %s, each with a fresh TTL", restored, args.state_file)
        store.on_state_change = state.save
    if restarted and args.warmup_s > 0:
        # With a state file the restored registrations already make the snapshot whole and
        # this is a second line of defence; without one it is the only one.
        store.warm_until = asyncio.get_running_loop().time() + args.warmup_s
        log.info("warming up for %.1fs: snapshot watches get 503 while instances re-register", args.warmup_s)
    runner = web.AppRunner(
        make_app(store, args.sweep_interval_s, creds, rules, issuer, ca),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
    except OSError as exc:
        await runner.cleanup()
        print(
            f"{PROG}: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; choose another --port",
            file=sys.stderr,
        )
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening on http://%s:%d", args.host, args.port)
    if creds is None:
        log.warning("--open: control-plane writes need no credential")
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s controlplane %(levelname)s %(message)s"
    )
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
