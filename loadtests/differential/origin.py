"""The upstream behind every proxy in the differential run: it records what reaches it.

One `Origin` per proxy (its own port), so what arrives is attributed to the proxy that
sent it. It parses what it receives strictly (llhttp): a request it cannot parse counts
as `garbled`, which is a forwarded ambiguity as much as a parsed one. It answers
`GET /diff/<case>` with the case's raw answer when the case has one, else a short echo.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

import httptools

from .corpus import CASES

ANSWERS = {c.name: c.answer for c in CASES if c.answer is not None}


@dataclass
class Seen:
    at: float
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    garbled: bool = False


@dataclass
class _Conn(asyncio.Protocol):
    origin: Origin
    transport: asyncio.Transport | None = None
    parser: httptools.HttpRequestParser | None = None
    url: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            assert self.parser is not None
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self.origin.seen.append(Seen(time.monotonic(), "?", "?", [], data[:200], garbled=True))
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        assert self.parser is not None and self.transport is not None
        method, target = self.parser.get_method().decode(), self.url.decode("latin-1")
        self.origin.seen.append(Seen(time.monotonic(), method, target, self.headers, self.body))
        name = target.split("?", 1)[0].rsplit("/", 1)[-1]
        raw = ANSWERS.get(name)
        if raw is not None:
            self.transport.write(raw)
            self.transport.close()  # every raw answer ends the connection (close-delimited ones need it)
            return
        doc = json.dumps({"method": method, "target": target, "body_bytes": len(self.body)}).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(doc), doc)
        )


class Origin:
    def __init__(self, port: int):
        self.port = port
        self.seen: list[Seen] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"origin-{port}", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> Origin:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        return self

    async def _listen(self) -> None:
        self._server = await self.loop.create_server(lambda: _Conn(self), "127.0.0.1", self.port)

    def between(self, start: float, end: float) -> list[Seen]:
        return [s for s in self.seen if start <= s.at <= end]

    def stop(self) -> None:
        if self._server is not None:
            self.loop.call_soon_threadsafe(self._server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
