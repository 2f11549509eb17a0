"""Helpers for the services' unit tests: real aiohttp servers on ephemeral loopback ports.

No async test plugin is needed: each test is a plain function that runs one
coroutine with ``run`` (bounded by a timeout) and opens apps with ``serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

TEST_TIMEOUT_S = 15.0


def _run(coro: Coroutine[Any, Any, Any], timeout_s: float = TEST_TIMEOUT_S) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


@contextlib.asynccontextmanager
async def _serve(app: web.Application) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def run() -> Callable[..., Any]:
    """run(coro) → its result; fails the test after TEST_TIMEOUT_S."""
    return _run


@pytest.fixture
def serve():
    """``async with serve(app) as client:`` a started app and a client for it."""
    return _serve
