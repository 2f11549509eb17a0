"""The access log: one JSON line per request per proxy, what Envoy's access log carries.

    {"time":"2026-12-02T00:31:02.123456Z","proxy":"gateway","trace_id":"4bf9…","span_id":"00f0…",
     "method":"GET","path":"/api/catalog/1","service":"catalog","status":200,"reason":"",
     "attempts":1,"upstream":"catalog-2","duration_ms":1.234,"bytes_received":0,"bytes_sent":118}

`trace_id`/`span_id` are this proxy's server span's (`gatemesh.tracing.ids`); a proxy that
does not trace the request logs the trace id its caller sent (``traceparent``) and no span
id, so `gatemesh logs --trace` finds a call with tracing off too.
`time` is when the request reached the proxy (Envoy's START_TIME), `duration_ms` runs to
the response head (a streamed body may still be flowing), `attempts` and `reason` are this
hop's (its X-Gatemesh-Attempts entry and X-Gatemesh-Reason), `upstream` the instance that
answered (its X-Instance; "" for the proxy's own answer), `bytes_sent` the body's length
(null when streamed without a declared length). The shell (shell.py) calls `record` once
per routed request, at completion; admin paths are not logged.

Cheap by design, as it sits on every request: the line is one %-format over pre-escaped
parts (JSON escaping only for a value that needs it), appended to a list; a task writes
the list out every `flush_interval_s` (Envoy's file flush interval), never the request.
The list is bounded (`max_pending_lines`: reached, it is written at once) and so is the
file (`max_file_bytes`: then it moves to ``<file>.1``, one old file kept).

At the process edge: ``GATEMESH_ACCESS_LOG_DIR`` (the process runner sets it to the run's
log folder) names the folder, each proxy writing ``<proxy>.access.jsonl`` there (``:`` in
its name becomes ``-``: ``sidecar-catalog-1``); ``GATEMESH_ACCESS_LOG=off`` turns it off.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .http.messages import Request, Response
from .tracing import ids

DIR_ENV = "GATEMESH_ACCESS_LOG_DIR"
SWITCH_ENV = "GATEMESH_ACCESS_LOG"  # "off" (or 0/false/no) turns the access log off
SUFFIX = ".access.jsonl"
COMPOSED = "composed"  # the service of a page the proxy composed from several (the gateway's products)
_OFF = frozenset({"off", "0", "false", "no"})
_NEEDS_ESCAPE = re.compile(r"[^ !#-\[\]-~]").search  # anything but printable ASCII minus " and \
_LINE = (
    '{"time":"%s.%06dZ","proxy":%s,"trace_id":"%s","span_id":"%s","method":"%s","path":%s,"service":%s,'
    '"status":%d,"reason":"%s","attempts":%d,"upstream":%s,"duration_ms":%.3f,"bytes_received":%d,"bytes_sent":%s}\n'
)
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class AccessLogConfig:
    path: str  # the file the lines go to (appended to)
    flush_interval_s: float = 1.0  # Envoy's file_flush_interval default: `gatemesh logs --follow` lags ≤ 1 s
    max_pending_lines: int = 4096  # a bound on memory: reached, the lines are written at once
    max_file_bytes: int = 64 * 1024 * 1024  # then rotated to <path>.1 (one old file kept, like a size-based logrotate)

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("the access log needs a file path")
        if not self.flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be a positive number of seconds, got {self.flush_interval_s!r}")
        if self.max_pending_lines < 1:
            raise ValueError(f"max_pending_lines must be at least 1, got {self.max_pending_lines!r}")
        if self.max_file_bytes < 4096:
            raise ValueError(f"max_file_bytes must be at least 4096, got {self.max_file_bytes!r}")


def file_name(proxy: str) -> str:
    """``sidecar:catalog-1`` → ``sidecar-catalog-1.access.jsonl`` (the component's name)."""
    return proxy.replace(":", "-") + SUFFIX


def from_env(proxy: str, env: Mapping[str, str], own_service: str = "") -> AccessLog | None:
    """The proxy's access log as its process environment asks, or None (off)."""
    folder = env.get(DIR_ENV, "")
    if not folder or env.get(SWITCH_ENV, "").strip().lower() in _OFF:
        return None
    return AccessLog(proxy, AccessLogConfig(str(Path(folder) / file_name(proxy))), own_service)


def _js(text: str) -> str:
    """`text` as a JSON string literal; the plain case (almost every value) without json.dumps."""
    return json.dumps(text) if _NEEDS_ESCAPE(text) else '"' + text + '"'


def _trace_ids(req: Request) -> tuple[str, str]:
    """(trace id, span id) of this proxy's server span (`gatemesh.tracing.ids`); when the
    proxy does not trace the request, the trace id its caller sent in a well-formed W3C
    traceparent, with no span id (this proxy made no span); else ("", "")."""
    traced = ids(req)
    if traced[0]:
        return traced
    raw = req.header(b"traceparent")
    if raw is None or len(raw) != 55:
        return "", ""
    text = raw.decode("latin-1").lower()
    version, trace_id, span_id, flags = text[:2], text[3:35], text[36:52], text[53:]
    if text[2] != "-" or text[35] != "-" or text[52] != "-" or version == "ff":
        return "", ""
    if not _HEX.issuperset(version + trace_id + span_id + flags) or trace_id == "0" * 32 or span_id == "0" * 16:
        return "", ""
    return trace_id, ""


class AccessLog:
    def __init__(self, proxy: str, config: AccessLogConfig, own_service: str = ""):
        self.proxy = proxy
        self.config = config
        self.path = Path(config.path)
        self._proxy_js = _js(proxy)
        self._attempts_prefix = proxy.encode() + b"="
        self._own_service = own_service  # what a sidecar's inbound "local" upstream is called here
        self._pending: list[str] = []
        self._limit = config.max_pending_lines
        self._second = -1
        self._second_text = ""
        self._file_bytes = self.path.stat().st_size if self.path.exists() else 0
        self.written = 0  # lines written out so far

    # --- the hot path -------------------------------------------------------------
    def record(self, req: Request, resp: Response, service: str, started: float) -> None:
        """One line for a request that reached the proxy at `started` (time.monotonic())."""
        now_wall = time.time()
        duration = time.monotonic() - started
        begun = now_wall - duration
        second = int(begun)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        reason = upstream = ""
        attempts = 0
        for n, v in resp.headers:
            if n == b"x-gatemesh-attempts":
                prefix = self._attempts_prefix
                if v.startswith(prefix):
                    end = v.find(b",")
                    digits = v[len(prefix) : end if end > 0 else len(v)]
                    attempts = int(digits) if digits.isdigit() else 0
            elif n == b"x-gatemesh-reason":
                reason = v.decode("latin-1")
            elif n == b"x-instance":
                upstream = v.decode("latin-1")
        if service == "local":
            service = self._own_service
        trace_id, span_id = _trace_ids(req)
        stream = resp.stream
        sent = str(len(resp.body)) if stream is None else str(resp.content_length) if resp.content_length else "null"
        self._pending.append(
            _LINE
            % (
                self._second_text,
                int((begun - second) * 1e6),
                self._proxy_js,
                trace_id,
                span_id,
                req.method.decode("latin-1"),
                _js(req.path.decode("latin-1")),
                _js(service),
                resp.status,
                reason if not _NEEDS_ESCAPE(reason) else "",
                attempts,
                _js(upstream),
                duration * 1000.0,
                len(req.body),
                sent,
            )
        )
        if len(self._pending) >= self._limit:
            self.flush()

    # --- off the hot path -----------------------------------------------------------
    def flush(self) -> None:
        """Write the pending lines out (appending; rotating first when the file is full)."""
        if not self._pending:
            return
        data = "".join(self._pending).encode()
        self._pending.clear()
        if self._file_bytes and self._file_bytes + len(data) > self.config.max_file_bytes:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self._file_bytes = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as f:
            f.write(data)
        self._file_bytes += len(data)
        self.written += data.count(b"\n")

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every `flush_interval_s` until `stop` is set (the shell then calls `close`)."""
        interval = self.config.flush_interval_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            try:
                self.flush()
            except OSError as exc:  # a full disk must not take the proxy down: lines dropped, said once
                self._pending.clear()
                print(f"{self.proxy}: access log {self.path}: {exc}; lines dropped", flush=True)

    def close(self) -> None:
        try:
            self.flush()
        except OSError:
            self._pending.clear()
