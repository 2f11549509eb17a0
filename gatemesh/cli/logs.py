"""The access logs of every proxy in a run (the gateway's, every sidecar's), merged in
time order: one line per request per proxy, so one call shows up once for every proxy
it crossed. `--trace ID` keeps one call's lines (the trace id a client sent in its
`traceparent`, or got back), `--service S` one service's; `--follow` keeps printing new
lines (Ctrl-C to stop). The logs stay on disk after `gatemesh down`, until the next `up`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gatemesh.accesslog import SUFFIX
from gatemesh.topology import SERVICES

from ._common import CliError, add_name_argument, load, name_hint
from ._show import command_name

HELP = "show the proxies' access logs merged in time order (--trace ID, --service S, --follow)"
ORDER = 62
POLL_S = 0.25  # --follow: how often the files are looked at
DEFAULT_LIMIT = 200  # without --follow's stream: the last this many lines that match
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service", "-s", metavar="S", help=f"only calls to this service ({', '.join(SERVICES)})")
    p.add_argument("--trace", "-t", metavar="ID", help="only the lines of this trace (32 hex digits)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    p.add_argument("--max-s", type=float, default=3600.0, help="--follow stops after this many seconds (default 3600)")
    p.add_argument("--limit", "-n", type=int, default=DEFAULT_LIMIT, help=f"the last N lines (default {DEFAULT_LIMIT})")
    p.add_argument("--json", action="store_true", help="the JSON lines as written")
    add_name_argument(p)


def _check(args: argparse.Namespace) -> None:
    if args.trace is not None:
        args.trace = args.trace.strip().lower()
        if not _TRACE_ID.match(args.trace) or args.trace == "0" * 32:
            raise CliError(f"--trace wants a W3C trace id of 32 hex digits (not all zero), got {args.trace!r}")
    if args.service is not None and args.service not in SERVICES:
        raise CliError(f"unknown service {args.service!r}; the services are: {', '.join(SERVICES)}")
    if args.limit < 1:
        raise CliError(f"--limit must be at least 1, got {args.limit}")
    if not args.max_s > 0:
        raise CliError(f"--max-s must be a positive number of seconds, got {args.max_s}")


def _matches(entry: dict[str, Any], args: argparse.Namespace) -> bool:
    if args.trace is not None and entry.get("trace_id") != args.trace:
        return False
    return args.service is None or entry.get("service") == args.service


def _line(e: dict[str, Any]) -> str:
    when = str(e.get("time", ""))[11:26]
    upstream = f" {e['upstream']}" if e.get("upstream") else ""
    reason = f" reason={e['reason']}" if e.get("reason") else ""
    trace = f" trace={e['trace_id']}" if e.get("trace_id") else ""
    return (
        f"{when}  {e.get('proxy', '?'):22} {e.get('method', '?')} {e.get('path', '?')} → "
        f"{e.get('service') or '-'}{upstream} {e.get('status')} attempts={e.get('attempts')}"
        f"{reason} {e.get('duration_us', 0) / 1000:.1f}ms{trace}"
    )


class _Tail:
    """One access log file, read from where the last read stopped (a rotation starts over)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode = -1
        self.rest = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
            if st.st_ino != self.inode or st.st_size < self.offset:  # rotated: a new file
                self.inode, self.offset, self.rest = st.st_ino, 0, b""
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *whole, self.rest = (self.rest + data).split(b"\n")
        return list(_parse(whole))


def _parse(lines: Iterable[bytes]) -> Iterable[dict[str, Any]]:
    for raw in lines:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # not one of ours (a line cut by a crash)
        if isinstance(entry, dict):
            yield entry


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SUFFIX}"))


def run(args: argparse.Namespace) -> int:
    _check(args)
    directory, _ = load(args.name)
    folder = directory / "logs"
    if not folder.is_dir():
        raise CliError(
            f"no run named {args.name!r} has logs here; start one with: {command_name()} up{name_hint(args.name)}"
        )
    files = _files(folder)
    if not files and not args.follow:
        raise CliError(
            f"no access logs in {folder} (the proxies write them while they run, unless GATEMESH_ACCESS_LOG=off)"
        )
    old: list[dict[str, Any]] = []
    for path in files:  # the rotated file first: its lines are older
        rotated = path.with_name(path.name + ".1")
        if rotated.exists():
            old.extend(_parse(rotated.read_bytes().split(b"\n")))
    tails = {p: _Tail(p) for p in files}
    batch = old + [e for t in tails.values() for e in t.read()]
    shown = [e for e in batch if _matches(e, args)]
    shown.sort(key=lambda e: str(e.get("time", "")))
    for e in shown[-args.limit :]:
        print(json.dumps(e) if args.json else _line(e), flush=True)
    if not args.follow:
        if not shown:
            # on stderr: with --json, stdout holds only the JSON lines a script parses
            print(f"gatemesh: no access log line matches (of {len(batch)} in {folder})", file=sys.stderr)
        return 0
    end = time.monotonic() + args.max_s
    try:
        while time.monotonic() < end:
            time.sleep(POLL_S)
            for path in _files(folder):  # a proxy scaled in meanwhile has a file of its own
                tails.setdefault(path, _Tail(path))
            fresh = [e for t in tails.values() for e in t.read() if _matches(e, args)]
            for e in sorted(fresh, key=lambda e: str(e.get("time", ""))):
                print(json.dumps(e) if args.json else _line(e), flush=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a follow ends: not an error
    return 0
