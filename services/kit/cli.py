"""Command-line options shared by every sample service.

    python -m services.<name> --instance ID --port P [--host H]
        [--register URL --advertise HOST:PORT [--ttl-s 3]] [--outbound URL] [--db PATH]

A bad argument prints one line, ``<name>: error: <what is wrong and what to do>``,
and exits 2 (argparse would print the whole usage block first).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_TTL_S = 3.0  # the contract's TTL; heartbeats go every ttl/3 s
MAX_TTL_S = 3600.0  # longer than that is a typo, not a TTL

# Instance ids end up in control-plane URLs and headers: keep them plain.
INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Options:
    service: str
    instance: str
    port: int
    host: str = DEFAULT_HOST
    register: str | None = None  # control-plane base URL
    advertise: str | None = None  # host:port others dial (the instance's Toxiproxy proxy)
    ttl_s: float = DEFAULT_TTL_S
    outbound: str | None = None  # base URL for calls to other services (Host names the service)
    db: str | None = None  # orders only: the shared SQLite file


class UsageError(Exception):
    """A bad command line; the message is one sentence."""


def fail(service: str, message: str) -> NoReturn:
    """Print the contract's one-line error and exit 2."""
    print(f"{service}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # no usage block, no exit here
        raise UsageError(f"{message} (see --help)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1..65535, got {text!r}")
    return port


def _instance(text: str) -> str:
    if not INSTANCE_ID.match(text):
        raise argparse.ArgumentTypeError(
            f"must be 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit, got {text!r}"
        )
    return text


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be an http:// URL such as http://127.0.0.1:8500, got {text!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise argparse.ArgumentTypeError(f"has a bad port: {text!r}") from None
    return text.rstrip("/")


def _host_port(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"must be HOST:PORT such as 127.0.0.1:18001, got {text!r}")
    _port(port)
    return text


def _ttl(text: str) -> float:
    try:
        ttl = float(text)
    except ValueError:
        ttl = -1.0
    if not 0 < ttl <= MAX_TTL_S:
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, {MAX_TTL_S:g}], got {text!r}")
    return ttl


def build_parser(service: str, *, outbound_required: bool, db_required: bool) -> argparse.ArgumentParser:
    p = _Parser(prog=service, description=f"gatemesh sample service: {service}")
    p.add_argument("--instance", required=True, type=_instance, help="this instance's id, e.g. catalog-1")
    p.add_argument("--port", required=True, type=_port, help="port to listen on")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--register", type=_http_url, metavar="URL", help="control plane to register with (edge topology)")
    p.add_argument("--advertise", type=_host_port, metavar="HOST:PORT", help="address others dial (with --register)")
    p.add_argument("--ttl-s", type=_ttl, default=DEFAULT_TTL_S, help="registration TTL in seconds (default 3)")
    p.add_argument(
        "--outbound",
        type=_http_url,
        required=outbound_required,
        metavar="URL",
        help="where calls to other services go, the target named in Host"
        + ("" if outbound_required else " (unused: this service calls no one)"),
    )
    if db_required:
        p.add_argument("--db", required=True, metavar="PATH", help="SQLite file shared by all instances")
    return p


def parse_options(
    service: str,
    argv: list[str] | None = None,
    *,
    outbound_required: bool = False,
    db_required: bool = False,
) -> Options:
    """Parse ``argv``; raise UsageError with one sentence when it is wrong."""
    ns = build_parser(service, outbound_required=outbound_required, db_required=db_required).parse_args(argv)
    if ns.register and not ns.advertise:
        raise UsageError(
            "--register needs --advertise HOST:PORT, the address others must dial (normally this instance's Toxiproxy proxy)"
        )
    if ns.advertise and not ns.register:
        raise UsageError("--advertise only makes sense with --register URL (the control plane to register with)")
    db = getattr(ns, "db", None)
    if db is not None:
        if not db:
            raise UsageError("--db must be a file path, got ''")
        folder = os.path.dirname(os.path.abspath(db))
        if not os.path.isdir(folder):
            raise UsageError(f"--db: folder {folder} does not exist; create it first")
    return Options(
        service=service,
        instance=ns.instance,
        port=ns.port,
        host=ns.host,
        register=ns.register,
        advertise=ns.advertise,
        ttl_s=ns.ttl_s,
        outbound=ns.outbound,
        db=db,
    )
