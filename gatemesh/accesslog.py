"""The access log: one JSON line per request per proxy, what Envoy's access log carries.

    {"time":"2026-12-02T00:31:02.123456Z","proxy":"gateway","trace_id":"4bf9…","span_id":"00f0…",
     "method":"GET","path":"/api/catalog/1","service":"catalog","status":200,"reason":"",
     "attempts":1,"upstream":"catalog-2","duration_us":1234,"bytes_received":0,"bytes_sent":118}

`trace_id`/`span_id` are this proxy's server span's (`gatemesh.tracing.ids`); a proxy that
does not trace the request logs the trace id its caller sent (``traceparent``) and no span
id, so `gatemesh logs --trace` finds a call with tracing off too.
`time` is when the request reached the proxy (Envoy's START_TIME), `duration_us` runs to
the response head (a streamed body may still be flowing), `attempts` and `reason` are this
hop's (its X-Gatemesh-Attempts entry and X-Gatemesh-Reason), `upstream` the instance that
answered (its X-Instance; "" for the proxy's own answer), `bytes_sent` the body's length
(null when streamed without a declared length). The shell (shell.py) calls `record` once
per routed request, at completion; admin paths are not logged.

Cheap by design, as it sits on every request: `record` only appends a tuple of references
and numbers (the request's and the answer's header lists, the status, the lengths, the
clocks); a task turns them into lines (one %-format over remembered JSON literals: JSON
escaping only for a value that needs it) and writes them out every `flush_interval_s`
(Envoy's file flush interval), never the request.
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

from .http.messages import Headers, Request, Response, header
from .tracing import ids

DIR_ENV = "GATEMESH_ACCESS_LOG_DIR"
SWITCH_ENV = "GATEMESH_ACCESS_LOG"  # "off" (or 0/false/no) turns the access log off
SUFFIX = ".access.jsonl"
COMPOSED = "composed"  # the service of a page the proxy composed from several (the gateway's products)
_OFF = frozenset({"off", "0", "false", "no"})
_NEEDS_ESCAPE = re.compile(r"[^ !#-\[\]-~]").search  # anything but printable ASCII minus " and \
# %d, not %.3f: formatting a float costs more than the rest of the line (µs are integers).
_LINE = (
    '{"time":"%s.%06dZ","proxy":%s,"trace_id":"%s","span_id":"%s","method":%s,"path":%s,"service":%s,'
    '"status":%d,"reason":%s,"attempts":%d,"upstream":%s,"duration_us":%d,"bytes_received":%d,"bytes_sent":%s}\n'
)
# What `record` keeps of one request: (time.time(), duration s, (trace id, span id),
# request headers, method, path, service, status, response headers, bytes in, bytes out).
_Entry = tuple[float, float, tuple[str, str], Headers, bytes, bytes, str, int, Headers, int, "int | None"]
_LITERALS_MAX = 1024  # a bound on the remembered literals (a client could send endless Host names)
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


def _caller_trace_id(headers: Headers) -> str:
    """The trace id of a well-formed W3C ``traceparent`` among `headers`, else ""."""
    raw = header(headers, b"traceparent")
    if raw is None or len(raw) != 55:
        return ""
    text = raw.decode("latin-1").lower()
    version, trace_id, span_id, flags = text[:2], text[3:35], text[36:52], text[53:]
    if text[2] != "-" or text[35] != "-" or text[52] != "-" or version == "ff":
        return ""
    if not _HEX.issuperset(version + trace_id + span_id + flags) or trace_id == "0" * 32 or span_id == "0" * 16:
        return ""
    return trace_id


class AccessLog:
    def __init__(self, proxy: str, config: AccessLogConfig, own_service: str = ""):
        self.proxy = proxy
        self.config = config
        self.path = Path(config.path)
        self._attempts_prefix = proxy.encode() + b"="
        self._own_service = own_service  # what a sidecar's inbound "local" upstream is called here
        self._pending: list[_Entry] = []
        self._limit = config.max_pending_lines
        self._second = -1
        self._second_text = ""
        self._literals: dict[bytes | str, str] = {proxy: _js(proxy)}
        self._file_bytes = self.path.stat().st_size if self.path.exists() else 0
        self.written = 0  # lines written out so far

    # --- the hot path -------------------------------------------------------------
    def record(self, req: Request, resp: Response, service: str, started: float) -> None:
        """Keep what one line needs of a request that reached the proxy at `started`
        (time.monotonic()): references and numbers only; the line is made by `flush`."""
        self._pending.append(
            (
                time.time(),
                time.monotonic() - started,
                ids(req),
                req.headers,
                req.method,
                req.path,
                service,
                resp.status,
                resp.headers,
                len(req.body),
                len(resp.body) if resp.stream is None else resp.content_length,
            )
        )
        if len(self._pending) >= self._limit:
            self.flush()

    # --- making the lines ---------------------------------------------------------
    def _literal(self, raw: bytes | str) -> str:
        """`raw` as a JSON string literal, remembered: methods, services, instances and
        reasons come from small sets, so almost every value is one dict lookup."""
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        literal = _js(text)
        if len(self._literals) < _LITERALS_MAX:
            self._literals[raw] = literal
        return literal

    def lines(self, entries: list[_Entry]) -> str:
        """The JSON lines of `entries`, in order."""
        known, literal = self._literals, self._literal
        proxy = known[self.proxy]
        prefix = self._attempts_prefix
        cut = len(prefix)
        own = self._own_service
        escape = _NEEDS_ESCAPE
        last, second_text = self._second, self._second_text
        out = []
        for now, duration, (
            trace_id,
            span_id,
        ), req_headers, method, path, service, status, headers, got, sent in entries:
            begun = now - duration
            second = int(begun)
            if second != last:
                last, second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            reason = upstream = '""'
            attempts = 0
            for n, v in headers:
                if n == b"x-instance":
                    upstream = known.get(v) or literal(v)
                elif n == b"x-gatemesh-attempts":
                    if v.startswith(prefix):
                        end = v.find(b",")
                        digits = v[cut : end if end > 0 else len(v)]
                        attempts = int(digits) if digits.isdigit() else 0
                elif n == b"x-gatemesh-reason":
                    reason = known.get(v) or literal(v)
            if not trace_id:
                trace_id = _caller_trace_id(req_headers)
            if service == "local":
                service = own
            text = path.decode("latin-1")
            out.append(
                _LINE
                % (
                    second_text,
                    (begun - second) * 1e6,
                    proxy,
                    trace_id,
                    span_id,
                    known.get(method) or literal(method),
                    json.dumps(text) if escape(text) else '"' + text + '"',
                    known.get(service) or literal(service),
                    status,
                    reason,
                    attempts,
                    upstream,
                    duration * 1e6,
                    got,
                    "null" if sent is None else sent,
                )
            )
        self._second, self._second_text = last, second_text
        return "".join(out)

    # --- off the hot path -----------------------------------------------------------
    def flush(self) -> None:
        """Write the pending lines out (appending; rotating first when the file is full)."""
        if not self._pending:
            return
        entries, self._pending = self._pending, []
        data = self.lines(entries).encode()
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
