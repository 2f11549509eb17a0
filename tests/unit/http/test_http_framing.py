"""How the server frames an answer, and which headers a hop never forwards."""

import pytest

from gatemesh.http.messages import Response, connection_options, status_line, strip_hop_by_hop
from gatemesh.http.server import framing


def test_a_whole_body_is_framed_by_its_own_length():
    assert framing(b"GET", Response(200, [], b"hello")) == (b"content-length: 5\r\n", True)
    # a declared length never overrides the body actually sent
    assert framing(b"GET", Response(200, [], b"hello", content_length=99)) == (b"content-length: 5\r\n", True)


def test_head_answer_carries_the_length_the_get_would_have_and_no_body():
    assert framing(b"HEAD", Response(200, [], b"", content_length=1234)) == (b"content-length: 1234\r\n", False)
    # a local answer to HEAD (e.g. /health): the length of the body it would have sent
    assert framing(b"HEAD", Response(200, [], b"{}")) == (b"content-length: 2\r\n", False)


def test_304_carries_a_length_only_when_the_upstream_declared_one():
    assert framing(b"GET", Response(304, [])) == (b"", False)
    assert framing(b"GET", Response(304, [], content_length=10)) == (b"content-length: 10\r\n", False)


@pytest.mark.parametrize("status", [100, 101, 204])
def test_1xx_and_204_carry_neither_body_nor_length(status):
    assert framing(b"GET", Response(status, [], b"ignored")) == (b"", False)


def test_status_lines_are_cached_and_unknown_codes_still_render():
    assert status_line(200) == b"HTTP/1.1 200 OK\r\n"
    assert status_line(200) is status_line(200)
    assert status_line(599) == b"HTTP/1.1 599 Unknown\r\n"


def test_connection_options_are_lower_cased_names():
    assert connection_options(b"keep-alive") == frozenset()
    assert connection_options(b"Keep-Alive, X-Trace ,x-other") == {b"keep-alive", b"x-trace", b"x-other"}


def test_hop_by_hop_and_connection_listed_headers_are_stripped():
    headers = [
        (b"connection", b"close, X-Secret"),
        (b"x-secret", b"1"),
        (b"keep-alive", b"timeout=5"),
        (b"transfer-encoding", b"chunked"),
        (b"content-length", b"3"),
        (b"te", b"trailers"),
        (b"proxy-authorization", b"Basic x"),
        (b"upgrade", b"h2c"),
        (b"x-kept", b"yes"),
    ]
    assert strip_hop_by_hop(headers) == [(b"x-kept", b"yes")]


def test_several_connection_headers_all_count():
    headers = [(b"connection", b"x-a"), (b"connection", b"x-b"), (b"x-a", b"1"), (b"x-b", b"2"), (b"x-c", b"3")]
    assert strip_hop_by_hop(headers) == [(b"x-c", b"3")]
