"""Interim (1xx) answers over real sockets, at the gateway and through two sidecars.

Issue 11, defect 1: the client took a 1xx as the final answer and handed the real one to
the next request on that pooled connection, so clients read each other's 201 bodies.
Each test runs through both hops of `test_http11` (the harness lives there).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httptools
import pytest
import test_http11 as h11
from test_http11 import Client, Hop, request

stack = h11.stack  # the module-scoped stack of test_http11, started afresh for this module


@pytest.fixture(params=["gateway", "sidecars"])
def hop(request: pytest.FixtureRequest, stack: dict) -> Hop:
    return stack["hops"][request.param]


pytestmark = [pytest.mark.integration]


def _get(hop: Hop, name: str) -> tuple[int, dict[str, str], bytes]:
    c = hop.client()
    try:
        c.send(hop.req("GET", name))
        (r,) = c.read_replies(1)
        return r.status, r.headers, bytes(r.body)
    finally:
        c.close()


def test_interim_answers_are_dropped_and_the_final_one_is_the_answer(hop):
    status, headers, body = _get(hop, "interim?id=A")
    assert status == 201, (status, headers, body)
    assert json.loads(body)["target"].endswith("interim?id=A")
    # The pooled origin connection the interim answers came on serves the next request
    # with that request's own answer (before the fix: the interim's 201 went here).
    for i in range(3):
        status, _, body = _get(hop, f"echo?after={i}")
        assert status == 200
        assert json.loads(body)["target"].endswith(f"echo?after={i}")


def test_no_client_ever_reads_another_clients_answer_under_interim_traffic(hop):
    """The issue's reproducer: POST clients whose answers start with 100 + 103 beside GET
    clients, on the same pooled upstream connections; every answer must be its own."""
    wrong: list[str] = []
    errors: list[str] = []
    stop_at = time.monotonic() + 3.0

    def worker(kind: str, n: int) -> None:
        k = 0
        while time.monotonic() < stop_at and k < 200:
            k += 1
            tag = f"{kind}-{n}-{k}"
            try:
                c = hop.client()
                try:
                    if kind == "post":
                        c.send(hop.req("POST", f"interim?tag={tag}", [("Expect", "100-continue")], b'{"q":1}'))
                    else:
                        c.send(hop.req("GET", f"echo?tag={tag}"))
                    c.head_requests += [False]  # a 100 Continue from the proxy comes first
                    c.read_until(lambda c=c: any(r.complete and r.status >= 200 for r in c.replies))
                    replies = c.replies
                finally:
                    c.close()
                final = [r for r in replies if r.complete and r.status >= 200]
                if not final:
                    errors.append(f"{tag}: no final answer")
                    continue
                if not json.loads(bytes(final[0].body))["target"].endswith(f"tag={tag}"):
                    wrong.append(f"{tag} got {bytes(final[0].body)[:80]!r}")
            except (OSError, ValueError) as exc:
                errors.append(f"{tag}: {exc}")

    threads = [threading.Thread(target=worker, args=("post", i)) for i in range(4)]
    threads += [threading.Thread(target=worker, args=("get", i)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not wrong, f"{len(wrong)} answers went to the wrong client: {wrong[:3]}"
    assert not errors, errors[:3]


def test_expect_100_continue_is_answered_by_the_proxy_and_not_forwarded(hop):
    body = b'{"product_id":1,"quantity":1}'
    head = request(
        "POST",
        f"{hop.prefix}/echo",
        [("Expect", "100-continue"), ("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        None,
        hop.host,
    )
    s = socket.create_connection(("127.0.0.1", hop.port), timeout=5)
    try:
        s.sendall(head)
        first = s.recv(100)
        # The first hop answers the expectation at once (curl would otherwise wait 1 s).
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n", first
        s.sendall(body)
        c = Client.__new__(Client)
        c.sock, c.replies, c.head_requests, c.closed = s, [], [False], False
        c._parser = httptools.HttpResponseParser(c)
        (r,) = c.read_replies(1)
    finally:
        s.close()
    assert r.status == 200
    seen = json.loads(bytes(r.body))
    assert seen["body"].encode() == body
    assert "expect" not in dict(seen["headers"]), "the expectation was answered here, so it goes no further"


def test_an_unasked_101_is_a_502_upstream_protocol_error_and_the_hop_keeps_serving(hop):
    status, headers, _ = _get(hop, "switch")
    assert status == 502
    assert headers["x-gatemesh-reason"] == "upstream-protocol-error"
    status, _, body = _get(hop, "echo?after=switch")
    assert status == 200 and json.loads(body)["target"].endswith("after=switch")
