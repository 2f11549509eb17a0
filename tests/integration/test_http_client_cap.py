"""The per-client-address connection cap (ServerLimits.max_connections_per_client), over
real loopback sockets against the real server: one address is refused at its cap with
503 too-many-client-connections while another address is still served, and a closed
connection gives its slot back."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gatemesh.http.limits import ENV_PREFIX, ServerLimits, from_env
from gatemesh.http.messages import Request, Response
from gatemesh.http.server import serve
from gatemesh.http.stats import snapshot

pytestmark = [pytest.mark.integration]

CAP = 3


async def _ok(req: Request) -> Response:
    return Response(200, [(b"content-type", b"text/plain")], b"ok")


def _connect(port: int, source: str) -> socket.socket:
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))  # 127.0.0.0/8 is all loopback on Linux: a second client address
    s.connect(("127.0.0.1", port))
    return s


def _ask(s: socket.socket) -> bytes:
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


def test_one_address_is_capped_another_is_served_and_a_closed_connection_frees_its_slot():
    async def main() -> None:
        server = await serve(_ok, "127.0.0.1", 0, limits=ServerLimits(max_connections_per_client=CAP))
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        before = snapshot().get("too-many-client-connections", 0)
        held = [await loop.run_in_executor(None, _connect, port, "127.0.0.1") for _ in range(CAP)]
        for s in held:
            assert (await loop.run_in_executor(None, _ask, s)).startswith(b"HTTP/1.1 200 ")
        extra = await loop.run_in_executor(None, _connect, port, "127.0.0.1")
        refused = await loop.run_in_executor(None, _ask, extra)
        assert refused.startswith(b"HTTP/1.1 503 ")
        assert b"x-gatemesh-reason: too-many-client-connections" in refused
        assert snapshot().get("too-many-client-connections", 0) == before + 1
        other = await loop.run_in_executor(None, _connect, port, "127.0.0.2")
        assert (await loop.run_in_executor(None, _ask, other)).startswith(b"HTTP/1.1 200 ")
        for s in (extra, other, held.pop()):
            s.close()
        await asyncio.sleep(0.2)  # the server sees the close
        again = await loop.run_in_executor(None, _connect, port, "127.0.0.1")
        assert (await loop.run_in_executor(None, _ask, again)).startswith(b"HTTP/1.1 200 ")
        for s in (*held, again):
            s.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_the_cap_is_off_by_default_and_validated():
    assert ServerLimits().max_connections_per_client == 0
    with pytest.raises(ValueError, match="max_connections_per_client"):
        ServerLimits(max_connections_per_client=-1)
    # A value of the wrong type comes from the environment, and is refused there naming the
    # variable (a compiled ServerLimits checks its annotations itself, with mypyc's TypeError).
    for bad in ("true", "1.5", "-1"):
        with pytest.raises(ValueError, match="MAX_CONNECTIONS_PER_CLIENT|max_connections_per_client"):
            from_env(ServerLimits, {ENV_PREFIX + "MAX_CONNECTIONS_PER_CLIENT": bad}, ENV_PREFIX)
