"""The dashboard's HTTP side: the page, one server-sent-events stream, the controls.

    GET  /                 the page (static/index.html; uPlot from static/node_modules)
    GET  /api/stream       SSE: ``hello`` (last view, timeline, history), then ``view``,
                           ``point`` and ``events`` as the aggregator produces them
    GET  /api/view         the last view (JSON), for scripts
    GET  /api/meta         what the controls offer (fault kinds, patterns, presets, paths)
    GET  /api/load         the built-in load's counters (read without waking the aggregator)
    GET  /trace/{id}       one trace from the run's Jaeger as a waterfall (traceview.py);
                           /api/trace/{id} its rows as JSON, /api/traces the latest ones
    POST /api/faults       {"target", "kind", "params"}     POST /api/faults/remove {"target", "kind"}
    POST /api/policy       {"service", "at", "pattern", "enabled"}
    POST /api/preset       {"service", "at", "preset"}      POST /api/scale {"service", "count"}
    POST /api/load         {"rate_per_s", "duration_s", "mix"}   POST /api/load/stop
    POST /api/reset
A control answers ``{"message": ...}`` or 400 ``{"error": "<one sentence>"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from .config import DashboardConfig
from .controls import KINDS, PRESET_NAMES, ControlError, Controls
from .hub import Hub
from .load import PATHS, Load, LoadError, LoadSpec
from .parts import Parts, PartsSource
from .traceview import Traces
from .view import SWITCHABLE

STATIC = Path(__file__).parent / "static"
HEARTBEAT_S = 15.0  # an SSE comment keeps idle proxies between page and server from closing it
MAX_BODY = 64 * 1024  # a control's JSON body


def make_app(source: PartsSource, config: DashboardConfig | None = None) -> web.Application:
    config = config or DashboardConfig()
    load = Load(config)
    hub = Hub(source, config, load.stats)
    controls = Controls(lambda: hub.parts or source.read(), source.control, source.state_file)
    app = web.Application(client_max_size=MAX_BODY)
    app["hub"] = hub

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise ControlError("the body must be JSON") from None
        if not isinstance(data, dict):
            raise ControlError("the body must be a JSON object")
        return data

    def action(fn: Callable[[dict[str, Any]], Any], timeline: str | None = None):
        async def handler(request: web.Request) -> web.Response:
            try:
                data = await body(request)
                result = fn(data)
                message = await asyncio.to_thread(controls.run, result) if callable(result) else result
            except (ControlError, LoadError) as e:
                return web.json_response({"error": str(e)}, status=400)
            if timeline:
                hub.note(timeline, message, str(data.get("target") or data.get("service") or ""))
            hub.soon.set()
            return web.json_response({"message": message})

        return handler

    def need(data: dict[str, Any], *keys: str) -> list[Any]:
        missing = [k for k in keys if data.get(k) in (None, "")]
        if missing:
            raise ControlError(f"missing {', '.join(missing)}")
        return [data[k] for k in keys]

    def add_fault(d: dict[str, Any]) -> Callable[[], str]:
        target, kind = need(d, "target", "kind")
        params = d.get("params") or {}
        if not isinstance(params, dict):
            raise ControlError("params must be a JSON object")
        return lambda: controls.add_fault(str(target), str(kind), params)

    def remove_fault(d: dict[str, Any]) -> Callable[[], str]:
        (target,) = need(d, "target")
        return lambda: controls.remove_fault(str(target), d.get("kind") or None)

    def policy(d: dict[str, Any]) -> Callable[[], str]:
        service, at, pattern = need(d, "service", "at", "pattern")
        if not isinstance(d.get("enabled"), bool):
            raise ControlError("enabled must be true or false")
        return lambda: controls.switch(str(service), str(at), str(pattern), d["enabled"])

    def apply_preset(d: dict[str, Any]) -> Callable[[], str]:
        service, at, name = need(d, "service", "at", "preset")
        return lambda: controls.apply_preset(str(service), str(at), str(name))

    def scale(d: dict[str, Any]) -> Callable[[], str]:
        service, count = need(d, "service", "count")
        return lambda: controls.scale(str(service), count)

    def start_load(d: dict[str, Any]) -> str:
        spec = LoadSpec.parse(d, config)
        parts = hub.parts or source.read()
        st = parts.status
        load.start(spec, st.get("entry") or "", st.get("api_key"), bool(st.get("gateway")))
        mix = ", ".join(f"{k} {v:g}" for k, v in spec.mix.items())
        return f"load started: {spec.rate_per_s:g}/s for {spec.duration_s:g} s ({mix})"

    def stop_load(_d: dict[str, Any]) -> str:
        load.stop()
        return "load stopped"

    def reset(_d: dict[str, Any]) -> Callable[[], str]:
        return controls.reset

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q = hub.subscribe()
        try:
            await resp.write(f"event: hello\ndata: {hub.hello()}\n\n".encode())
            while True:
                try:
                    message = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    message = ": still here\n\n"
                await resp.write(message.encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.unsubscribe(q)
        return resp

    async def index(_r: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def health(_r: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "watching": len(hub.subscribers), "rounds": hub.rounds})

    async def view(_r: web.Request) -> web.Response:
        return web.json_response(hub.last or {})

    async def load_state(_r: web.Request) -> web.Response:
        return web.json_response(load.stats())

    async def meta(_r: web.Request) -> web.Response:
        return web.json_response(
            {
                "kinds": list(KINDS),
                "patterns": list(SWITCHABLE),
                "presets": PRESET_NAMES,
                "paths": list(PATHS),
                "max_load_rate_per_s": config.max_load_rate_per_s,
            }
        )

    async def on_start(app: web.Application) -> None:
        app["poller"] = asyncio.get_running_loop().create_task(hub.run())

    async def on_stop(app: web.Application) -> None:
        load.stop()
        app["poller"].cancel()

    app.on_startup.append(on_start)
    app.on_cleanup.append(on_stop)
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/view", view)
    app.router.add_get("/api/meta", meta)
    app.router.add_get("/api/load", load_state)

    async def current_parts() -> Parts:
        return hub.parts if hub.parts is not None else await asyncio.to_thread(source.read)

    Traces(current_parts).routes(app)
    for path, fn, note in (
        ("/api/faults", add_fault, "fault-injected"),
        ("/api/faults/remove", remove_fault, "fault-removed"),
        ("/api/policy", policy, "policy-switched"),
        ("/api/preset", apply_preset, "preset-applied"),
        ("/api/scale", scale, "scaled"),
        ("/api/load", start_load, "load"),
        ("/api/load/stop", stop_load, "load"),
        ("/api/reset", reset, "reset"),
    ):
        app.router.add_post(path, action(fn, note))
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    return app
