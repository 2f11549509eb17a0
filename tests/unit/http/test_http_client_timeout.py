"""The pooled client's attempt timeout: one timer per request on the upstream connection."""

import asyncio

import pytest

from gatemesh.http.client import ConnectionPool, UpstreamReset


async def _server(answer_after_s: float | None):
    """A tiny origin: answers every request after `answer_after_s` (None: never); counts connections."""
    state = {"connections": 0}

    async def handle(reader, writer):
        state["connections"] += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if answer_after_s is None:
                    await asyncio.sleep(3600)
                await asyncio.sleep(answer_after_s)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], state


def test_no_head_in_time_raises_timeout_and_the_connection_is_not_reused():
    async def main():
        server, port, state = await _server(None)
        pool = ConnectionPool()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(TimeoutError):
            await pool.request("127.0.0.1", port, b"GET", b"/", [(b"host", b"x")], timeout_s=0.05)
        assert 0.04 <= loop.time() - t0 < 1.0
        await asyncio.sleep(0.05)
        assert not pool._idle.get(("127.0.0.1", port))  # closed, never pooled
        pool.close()
        server.close()

    asyncio.run(main())


def test_an_answer_in_time_cancels_the_timer_and_the_connection_is_reused():
    async def main():
        server, port, state = await _server(0.0)
        pool = ConnectionPool()
        for _ in range(3):
            resp = await pool.request("127.0.0.1", port, b"GET", b"/", [(b"host", b"x")], timeout_s=0.05)
            assert resp.status == 200 and await resp.read() == b"ok"
        await asyncio.sleep(0.1)  # past every timeout: a stale timer must not break the pooled connection
        resp = await pool.request("127.0.0.1", port, b"GET", b"/", [(b"host", b"x")], timeout_s=0.05)
        assert await resp.read() == b"ok"
        assert state["connections"] == 1
        pool.close()
        server.close()

    asyncio.run(main())


def test_a_late_timer_never_hits_the_next_request_on_the_same_connection():
    async def main():
        server, port, state = await _server(0.0)
        pool = ConnectionPool()
        conn_fut = asyncio.get_running_loop().create_future()
        resp = await pool.request("127.0.0.1", port, b"GET", b"/", [(b"host", b"x")], timeout_s=5)
        await resp.read()
        conn = resp._conn
        conn_fut.set_result(None)
        # fire the first request's timeout by hand while the connection serves a second request
        second = asyncio.ensure_future(pool.request("127.0.0.1", port, b"GET", b"/", [(b"host", b"x")], timeout_s=5))
        await asyncio.sleep(0)
        assert conn.headers_future is not None
        conn.time_out(conn_fut, 5)  # a timer bound to a finished request: no effect
        resp2 = await second
        assert await resp2.read() == b"ok"
        pool.close()
        server.close()

    asyncio.run(main())


def test_connect_refused_is_connect_failed_and_a_close_mid_body_is_a_reset():
    async def main():
        from gatemesh.http.client import ConnectFailed

        pool = ConnectionPool()
        server, port, _ = await _server(0.0)
        server.close()
        await server.wait_closed()
        with pytest.raises(ConnectFailed):
            await pool.request("127.0.0.1", port, b"GET", b"/", [], timeout_s=1)

        async def cut(reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(cut, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        resp = await pool.request("127.0.0.1", port, b"GET", b"/", [], timeout_s=1)
        with pytest.raises(UpstreamReset):
            await resp.read()
        server.close()

    asyncio.run(main())
