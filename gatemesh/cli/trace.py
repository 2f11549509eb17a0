"""A call's trace in the terminal, read from the topology's Jaeger (its HTTP query API):
the span tree with durations, instances, attempts, reasons and refusals, for people
without a browser. The trace id comes from a response's X-Gatemesh-Trace-Id header.

    gatemesh trace 4bf92f3577b34da6a3ce929d0e0e4736
    gatemesh trace --last 3                 # the 3 latest traces through the entry proxy
    gatemesh trace --ratio 0.01             # sample 1% of new traces from now on, every proxy
"""

from __future__ import annotations

import argparse
import json
import re

from gatemesh.runner.jaeger import JaegerQuery
from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.tracing.tree import render

from ._common import CliError, add_name_argument, control_of
from .events import _proxies

HELP = "show a call's trace (span tree from Jaeger): gatemesh trace ID, --last N; --ratio R sets sampling"
ORDER = 62
TRACE_ID = re.compile(r"^[0-9a-f]{1,32}$")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace_id", nargs="?", metavar="ID", help="a trace id (the X-Gatemesh-Trace-Id of a response)")
    p.add_argument("--last", type=int, metavar="N", help="the N latest traces instead of one by id")
    p.add_argument("--service", metavar="S", help="with --last: traces through this service (default: the entry's)")
    p.add_argument("--ratio", type=float, metavar="R", help="set every proxy's sampling ratio for new traces (0..1)")
    p.add_argument("--json", action="store_true", help="the spans as Jaeger returned them")
    p.add_argument("--jaeger", metavar="URL", help="Jaeger's query address (default: the running topology's)")
    add_name_argument(p)


def run(args: argparse.Namespace) -> int:
    if args.ratio is not None:
        return _set_ratio(args)
    if (args.trace_id is None) == (args.last is None):
        raise CliError("name one trace id, or --last N (see gatemesh trace --help)")
    status = None if args.jaeger else control_of(args.name).status()
    url = args.jaeger or (status or {}).get("jaeger")
    if not url:
        raise CliError("this topology runs without Jaeger (started with --no-jaeger); restart it without that flag")
    jaeger = JaegerQuery(url)
    if args.trace_id is not None:
        trace_id = args.trace_id.strip().lower()
        if not TRACE_ID.match(trace_id):
            raise CliError(f"a trace id is up to 32 hex digits (X-Gatemesh-Trace-Id), got {args.trace_id!r}")
        traces = [jaeger.trace(trace_id.rjust(32, "0"))]
        if not traces[0]:
            raise CliError(
                f"Jaeger at {url} has no trace {trace_id}: it may not be exported yet (wait a second), "
                "or it was not sampled (gatemesh trace --ratio 1)"
            )
    else:
        if args.last < 1:
            raise CliError(f"--last must be at least 1, got {args.last}")
        service = args.service or _entry_service(status)
        traces = jaeger.find(service, limit=max(20, 5 * args.last))[: args.last]  # Jaeger's limit is not 'latest'
        if not traces:
            raise CliError(f"Jaeger at {url} has no traces through {service} yet; make a call first")
    for i, spans in enumerate(traces):
        if args.json:
            print(json.dumps(spans))
            continue
        if i:
            print()
        print("\n".join(render(spans)))
    return 0


def _entry_service(status: dict | None) -> str:
    """Jaeger's service name of the proxy a client enters through."""
    if status and status.get("gateway"):
        return "gateway"
    return "storefront-sidecar"


def _set_ratio(args: argparse.Namespace) -> int:
    if not 0 <= args.ratio <= 1:
        raise CliError(f"--ratio must be from 0 to 1, got {args.ratio}")
    proxies = _proxies(control_of(args.name).status())
    failed = []
    for name, url in proxies.items():
        try:
            json_request("PUT", f"{url}/-/tracing", {"ratio": args.ratio}, timeout_s=3.0)
        except (OSError, HttpError) as e:
            failed.append(f"{name} ({e})")
    print(f"gatemesh: sampling {args.ratio:g} of new traces at {len(proxies) - len(failed)} proxies")
    if failed:
        raise CliError("these proxies did not take it (tracing off there, or down): " + "; ".join(failed))
    return 0
