"""The dashboard's trace view: one call's spans from the run's Jaeger as a waterfall, as
Kiali shows traces beside its graph (Jaeger's own web UI cannot be built here).

    GET /trace/{id}        the page: one row per span, indented under its parent, a bar
                           from its start for its duration, attempt, instance, outcome and
                           reason; refusals marked; span events (breaker-open, ejected) as ticks
    GET /api/trace/{id}    the same rows as JSON (gatemesh.tracing.waterfall)
    GET /api/traces        the latest traces through the entry proxy, for the main page

Drawn on the server as plain HTML with inline SVG: the page needs no script, and a bad id
or a missing Jaeger is a status code and one sentence, never a traceback.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiohttp import web

from gatemesh.runner.errors import RunnerError
from gatemesh.runner.jaeger import JaegerQuery
from gatemesh.tracing.waterfall import Row, Waterfall, as_json, layout

from .parts import Parts

TRACE_ID = re.compile(r"^[0-9a-fA-F]{1,32}$")  # as `gatemesh trace` takes it: X-Gatemesh-Trace-Id
LAST_TRACES = 8  # the main page's list: enough to find the call just made
BAR_W = 480  # px of the waterfall column; with the text columns the table fits a 1400 px screen


class TraceError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _ms(us: float) -> str:
    return f"{us / 1000:.1f} ms"


def _outcome(r: Row) -> str:
    if r.refusal:
        return f"REFUSED ({r.reason}), no attempt"
    bits = [r.outcome.upper()] if r.outcome else []
    if r.reason:
        bits.append(r.reason)
    if r.status is not None:
        bits.append(str(r.status))
    return " · ".join(bits)


def _bar(r: Row, total_us: float) -> str:
    x = r.start_us / total_us * BAR_W
    w = max(r.duration_us / total_us * BAR_W, 2.0)
    cls = "refusal" if r.refusal else ("error" if r.outcome not in (None, "ok") else r.kind)
    ticks = "".join(
        f'<g class="tick"><line x1="{t / total_us * BAR_W:.1f}" x2="{t / total_us * BAR_W:.1f}" y1="1" y2="21"/>'
        f"<title>{escape(name)} at {_ms(t)}</title></g>"
        for t, name in r.events
    )
    label_x = x + w + 4 if x + w < BAR_W - 70 else x - 4
    anchor = "start" if x + w < BAR_W - 70 else "end"
    return (
        f'<svg class="bar" width="{BAR_W}" height="22" role="img" aria-label="{_ms(r.start_us)} to '
        f'{_ms(r.start_us + r.duration_us)}"><rect class="{cls}" x="{x:.1f}" y="4" width="{w:.1f}" height="14"/>'
        f'{ticks}<text x="{label_x:.1f}" y="16" text-anchor="{anchor}">{_ms(r.duration_us)}</text></svg>'
    )


def _row_html(r: Row, total_us: float, with_events: bool) -> str:
    shown = r.instance and r.instance not in r.service  # the gateway's instance is "gateway"
    who = escape(r.service) + (f' <span class="inst">[{escape(r.instance or "")}]</span>' if shown else "")
    attempt = f"#{r.attempt} → {escape(r.target or '?')}" if r.attempt is not None else ""
    waits = []
    if r.backoff_ms:
        waits.append(f"{r.backoff_ms:g} ms backoff")
    if r.attempt_timeout_ms is not None:
        waits.append(f"timeout {r.attempt_timeout_ms:g} ms")
    events = ", ".join(escape(name) for _, name in r.events)
    classes = " ".join(
        c
        for c, on in (
            ("attempt", r.attempt is not None),
            ("refusal", r.refusal),
            ("failed", r.outcome not in (None, "ok")),
        )
        if on
    )
    data = f'data-span="{escape(r.span_id)}" data-depth="{r.depth}" data-service="{escape(r.service)}"'
    if r.attempt is not None:
        data += f' data-attempt="{r.attempt}" data-outcome="{escape(r.outcome or "")}" data-reason="{escape(r.reason or "")}"'
    return (
        f'<tr class="{classes}" {data}><td class="name" style="padding-left:{0.4 + r.depth * 1.2:.1f}em">'
        f"{escape(r.name)}</td><td>{who}</td><td>{attempt}</td><td class='muted'>{' · '.join(waits)}</td>"
        f"<td>{escape(_outcome(r))}</td>"
        + (f'<td class="events">{events}</td>' if with_events else "")
        + f'<td class="wf">{_bar(r, total_us)}</td></tr>'
    )


def page(title: str, body: str, status: int = 200) -> web.Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/trace.css"></head>'
        f'<body><header><h1><a href="/">gatemesh</a> · {escape(title)}</h1></header><main>{body}</main></body></html>'
    )
    return web.Response(text=html, status=status, content_type="text/html")


def render(w: Waterfall) -> str:
    with_events = any(r.events for r in w.rows)  # the column only when there is something in it
    rows = "".join(_row_html(r, w.duration_us, with_events) for r in w.rows)
    per_proxy: dict[str, int] = {}
    for r in w.rows:
        if r.attempt is not None:
            per_proxy[r.service] = per_proxy.get(r.service, 0) + 1
    attempts = ", ".join(f"{escape(k)} {v}" for k, v in per_proxy.items()) or "none"
    scale = "".join(f'<span style="left:{i / 4 * BAR_W:.0f}px">{_ms(w.duration_us * i / 4)}</span>' for i in range(5))
    return (
        f'<p id="summary">{len(w.rows)} spans · {_ms(w.duration_us)} · attempts: {attempts} · '
        f"services: {escape(', '.join(w.services))}</p>"
        '<p class="legend"><span class="key server"></span>server span <span class="key client"></span>attempt ok '
        '<span class="key error"></span>attempt failed <span class="key refusal"></span>refused, no attempt '
        '<span class="key tick"></span>event (breaker-open, ejected)</p>'
        '<p class="legend">Each row is a span, indented under the span it ran inside; its bar starts when it '
        "started and is as long as it took. A proxy's attempt rows say which instance each try went to.</p>"
        '<table id="waterfall"><thead><tr><th>span</th><th>service [instance]</th><th>attempt → instance</th><th>backoff · timeout</th>'
        "<th>outcome · reason · status</th>"
        + ("<th>events</th>" if with_events else "")
        + f'<th class="wf"><div class="scale">{scale}</div></th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


class Traces:
    """Reads traces from the Jaeger the run's status names (`jaeger`)."""

    def __init__(self, parts: Callable[[], Awaitable[Parts]]):
        self.parts = parts

    async def _jaeger(self) -> tuple[JaegerQuery, Parts]:
        parts = await self.parts()
        url = parts.status.get("jaeger")
        if not url:
            raise TraceError(503, "this run has no Jaeger (started with --no-jaeger), so there are no traces to show")
        return JaegerQuery(url), parts

    async def waterfall(self, raw: str) -> Waterfall:
        trace_id = raw.strip().lower()
        if not TRACE_ID.match(trace_id):
            raise TraceError(400, f"a trace id is up to 32 hex digits (X-Gatemesh-Trace-Id), not {raw[:40]!r}")
        jaeger, _ = await self._jaeger()
        try:
            spans = await asyncio.to_thread(jaeger.trace, trace_id.rjust(32, "0"))
        except RunnerError:
            raise TraceError(
                503, f"Jaeger at {jaeger.url} is not answering; is it running (gatemesh status)?"
            ) from None
        w = layout(spans)
        if w is None:
            raise TraceError(404, f"Jaeger has no trace {trace_id} (not exported yet, not sampled, or unknown)")
        return w

    async def latest(self) -> list[dict[str, Any]]:
        jaeger, parts = await self._jaeger()
        service = "gateway" if parts.status.get("gateway") else "storefront-sidecar"
        try:
            traces = await asyncio.to_thread(jaeger.find, service, 4 * LAST_TRACES, "15m")
        except RunnerError:
            raise TraceError(503, f"Jaeger at {jaeger.url} is not answering; is it running?") from None
        out: list[dict[str, Any]] = []
        for spans in traces[:LAST_TRACES]:
            w = layout(spans)
            if w is None:
                continue
            root = w.rows[0]
            out.append(
                {
                    "trace_id": w.trace_id,
                    "name": f"{root.service}: {root.name}",
                    "status": root.status,
                    "reason": root.reason,
                    "spans": len(w.rows),
                    "attempts": sum(1 for r in w.rows if r.attempt is not None),
                    "duration_ms": round(w.duration_us / 1000, 1),
                }
            )
        return out

    async def html(self, request: web.Request) -> web.Response:
        raw = request.match_info.get("id") or request.query.get("id", "")
        try:
            w = await self.waterfall(raw)
        except TraceError as e:
            return page("trace", f'<p id="message" class="error">{escape(str(e))}</p>', e.status)
        return page(f"trace {w.trace_id}", render(w))

    async def json(self, request: web.Request) -> web.Response:
        try:
            w = await self.waterfall(request.match_info["id"])
        except TraceError as e:
            return web.json_response({"error": str(e)}, status=e.status)
        return web.json_response(as_json(w))

    async def last(self, _r: web.Request) -> web.Response:
        try:
            return web.json_response({"traces": await self.latest()})
        except TraceError as e:
            # 200 on purpose: the main page shows the sentence, and a browser logs no error
            return web.json_response({"traces": [], "message": str(e)})

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/trace", self.html)  # the main page's form: /trace?id=…
        app.router.add_get("/trace/{id}", self.html)
        app.router.add_get("/api/trace/{id}", self.json)
        app.router.add_get("/api/traces", self.last)
