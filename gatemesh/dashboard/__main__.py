"""``python -m gatemesh.dashboard``: serve the live dashboard of one running topology."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from .parts import PartsSource
from .server import make_app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gatemesh-dashboard", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default loopback)")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--parts", type=Path, required=True, help="the topology's parts.json")
    p.add_argument("--state", type=Path, help="the supervisor's state.json (process controls, live status)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        source = PartsSource(args.parts, args.state)
    except (OSError, ValueError) as e:
        print(f"gatemesh-dashboard: error: cannot read {args.parts}: {e}", file=sys.stderr)
        return 2
    print(f"gatemesh-dashboard: http://{args.host}:{args.port}/", flush=True)
    web.run_app(make_app(source), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
