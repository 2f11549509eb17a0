"""mTLS on a proxy's inbound listener: off, permissive or strict, switchable live.

A TLS connection starts with a handshake record, whose first byte is 0x16; an HTTP
request starts with a method's letter. So one port can take both: each accepted
socket is peeked at (``MSG_PEEK``: the byte stays for whoever reads next) and handed to
the HTTP protocol either wrapped in TLS or as it is (Istio's PERMISSIVE does the same
with its TLS inspector). In ``strict`` a plain connection gets one 400 line naming
``mtls-required`` and is closed; a TLS client without a certificate from the mesh's CA
fails the handshake. Every accepted connection is counted by what it turned out to be.

The context is read per connection from the workload identity, so a renewed leaf (or
a new trust bundle) serves from the next connection on, with nothing restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

from gatemesh.security.identity import WorkloadIdentity

MODES = ("off", "permissive", "strict")
MTLS_ENV = "GATEMESH_MTLS"  # the topology's mode for every proxy (gatemesh up --mtls sets it)
TLS_RECORD = 0x16  # TLS handshake content type: the first byte of every ClientHello
PEEK_TIMEOUT_S = 10.0  # the listener's header_timeout_s: a client that sends nothing is dropped as slow
HANDSHAKE_TIMEOUT_S = 10.0
PLAIN_REFUSAL = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-gatemesh-reason: mtls-required\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)
log = logging.getLogger("gatemesh.security.tls")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mTLS mode must be one of {', '.join(MODES)}, got {mode!r}.")
    return mode


class TlsListener:
    """Accepts on one socket and decides per connection: TLS, plain, or refused."""

    def __init__(self, identity: WorkloadIdentity, mode: str = "permissive") -> None:
        self.identity = identity
        self.mode = check_mode(mode)
        self.counts = {"mtls": 0, "plain": 0, "refused-plain": 0, "refused-handshake": 0}
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, factory: Callable[[], Any], host: str, port: int) -> _Server:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
        task = asyncio.get_running_loop().create_task(self._accept(sock, factory), name=f"tls-accept-{port}")
        return _Server(sock, task)

    async def _accept(self, sock: socket.socket, factory: Callable[[], Any]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # EMFILE and friends: back off, keep listening
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.05)
                continue
            task = loop.create_task(self._handle(conn, factory))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, conn: socket.socket, factory: Callable[[], Any]) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mode = self.mode
        try:
            first = b"" if mode == "off" else await self._peek(conn)
        except (TimeoutError, OSError):
            conn.close()
            return
        context = self.identity.server_context
        if mode != "off" and first[:1] == bytes([TLS_RECORD]) and context is not None:
            try:
                await loop.connect_accepted_socket(
                    factory, conn, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S
                )
            except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as exc:
                self.counts["refused-handshake"] += 1
                log.info("TLS handshake refused: %s", exc)
                conn.close()
                return
            self.counts["mtls"] += 1
            return
        if mode == "strict":
            self.counts["refused-plain"] += 1
            body = b'{"error": "this port takes mutual TLS only (strict mode)", "reason": "mtls-required"}'
            with contextlib.suppress(OSError):
                await loop.sock_sendall(conn, PLAIN_REFUSAL % (len(body), body))
            conn.close()
            return
        self.counts["plain"] += 1
        await loop.connect_accepted_socket(factory, conn)

    async def _peek(self, conn: socket.socket) -> bytes:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = conn.fileno()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await asyncio.wait_for(ready, PEEK_TIMEOUT_S)
        finally:
            loop.remove_reader(fd)
        return conn.recv(1, socket.MSG_PEEK)

    def status(self) -> dict[str, Any]:
        return {"mode": self.mode, "identity": self.identity.spiffe_id, "connections": dict(self.counts)}


class _Server:
    """What ``asyncio.Server`` offers the shell: close() and wait_closed()."""

    def __init__(self, sock: socket.socket, task: asyncio.Task[None]) -> None:
        self.sockets = [sock]
        self._sock = sock
        self._task = task

    def close(self) -> None:
        self._task.cancel()
        self._sock.close()

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
