"""Process plumbing shared by the gateway and the sidecar: event loop choice, logging,
one-line fatal errors, and a graceful stop on SIGTERM/SIGINT (the shutdown order after
it is shell.py's)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn


def fatal(component: str, message: str) -> NoReturn:
    """The contract for bad input at start-up: one line on stderr, exit 2, no traceback."""
    print(f"{component}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def setup_logging(component: str) -> None:
    level = os.environ.get("GATEMESH_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s {component} %(levelname)s %(name)s: %(message)s",
    )


def run(main: Callable[[asyncio.Event], Awaitable[None]], component: str) -> None:
    """Run `main(stop_event)` on uvloop when available; SIGTERM/SIGINT set the event."""
    runner: Callable[[Coroutine[Any, Any, None]], None]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.run

    async def wrapper() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        runner(wrapper())
    except OSError as exc:
        fatal(component, f"{exc.strerror or exc} (is the port already in use? choose another with the config)")
    except KeyboardInterrupt:
        pass
