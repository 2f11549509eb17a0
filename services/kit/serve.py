"""Run a service from its command line: parse, listen, register, and stop gracefully.

On SIGTERM (or SIGINT) the order is: deregister from the control plane first (so no
one is sent here any more), then stop accepting connections, then let in-flight
requests finish for up to DRAIN_TIMEOUT_S before they are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from services.kit.cli import Options, UsageError, fail, parse_options
from services.kit.guard import GUARD, SECRET_ENV, SidecarOnly
from services.kit.registration import Registrar
from services.kit.telemetry import flush, setup_tracing

BOOTSTRAP_ENV = "GATEMESH_BOOTSTRAP_TOKEN"  # gatemesh.security.credentials.BOOTSTRAP_ENV, the runner's handoff
DRAIN_TIMEOUT_S = 2.0  # in-flight requests get this long after the listener closes

log = logging.getLogger("services.kit")


class StartupError(Exception):
    """The service cannot start (bad file, bad config); the message is one sentence."""


def _loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_service(
    service: str,
    build_app: Callable[[Options], web.Application],
    argv: list[str] | None = None,
    *,
    outbound_required: bool = False,
    db_required: bool = False,
) -> None:
    """The whole life of a service process; exits 0 after a clean stop, 2 on bad input."""
    try:
        options = parse_options(service, argv, outbound_required=outbound_required, db_required=db_required)
    except UsageError as exc:
        fail(service, str(exc))
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s {options.instance} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    provider = setup_tracing(service, options.instance)  # before the app exists: it instruments aiohttp
    try:
        app = build_app(options)
        guard = SidecarOnly.from_env(os.environ)  # the runner's handoff, read at the process edge
    except StartupError as exc:
        fail(service, str(exc))
    except ValueError as exc:
        fail(service, f"${SECRET_ENV}: {exc}")
    if guard is not None:
        app[GUARD] = guard
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(_serve(app, options))
        except StartupError as exc:
            fail(service, str(exc))
    flush(provider)
    sys.exit(0)


async def _serve(app: web.Application, options: Options) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=DRAIN_TIMEOUT_S)
    await runner.setup()  # runs the app's startup hooks; they may raise StartupError
    site = web.TCPSite(runner, options.host, options.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}") from None
    log.info("%s %s listening on http://%s:%d", options.service, options.instance, options.host, options.port)

    registrar = None
    if options.register:
        registrar = Registrar(
            options.register,
            options.service,
            options.instance,
            options.advertise or "",
            options.ttl_s,
            token=os.environ.get(BOOTSTRAP_ENV) or None,  # the runner's handoff (services import no gatemesh)
        )
        await registrar.start()

    await stopping.wait()
    log.info("stopping: deregister, stop accepting, drain for up to %.1fs", DRAIN_TIMEOUT_S)
    if registrar is not None:
        await registrar.stop()
    await runner.cleanup()
    log.info("stopped")
