"""Properties of the client's response parsing and the server's re-framing.

- interim answers (100, 102, 103) never become the answer; the final one arrives whole
  with its body however it is split, and the connection is pooled again only when the
  answer was not delimited by the close;
- re-framed as the server sends it on (whole, by length, or chunked), the answer parses
  back to the same status and body, a chunked one with its final `0\\r\\n\\r\\n`.
"""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from gatemesh.http.listener import Listener
from gatemesh.http.messages import Request, Response
from gatemesh.http.server import HttpServerProtocol
from gatemesh.http.write import write_stream, write_whole

from .harness import LIMITS, FakeTransport, parse_answers, run, run_client
from .strategies import splits, upstream_answer


@given(st.data())
def test_the_final_answer_arrives_whole_however_it_is_split(data: st.DataObject) -> None:
    (wire,), body, status, framing = data.draw(upstream_answer())
    run = run_client(data.draw(splits(wire)), close_after=framing == "close" or data.draw(st.booleans()))
    assert run.error is None, run.error
    assert (run.status, run.body) == (status, body)
    if framing == "close":
        assert not run.reusable


@given(st.binary(max_size=200), st.booleans())
def test_garbage_from_upstream_is_a_typed_error_never_an_answer_below_200(data: bytes, close: bool) -> None:
    run = run_client([data], close_after=close)
    assert run.error in (None, "UpstreamProtocolError", "UpstreamReset", "UpstreamHeadTooLarge", "TimeoutError"), (
        run.error
    )
    if run.error is None:
        assert run.status is not None and run.status >= 200


def reframe(status: int, body_chunks: list[bytes], length: int | None, whole: bool) -> bytes:
    async def main() -> bytes:
        async def handler(req: Request) -> Response:
            raise AssertionError("not called")

        proto = HttpServerProtocol(Listener(handler, LIMITS, b"fuzz", asyncio.get_running_loop()))
        t = FakeTransport()
        proto.connection_made(t)

        async def stream():  # type: ignore[no-untyped-def]
            for c in body_chunks:
                yield c

        if whole:
            write_whole(t, b"GET", Response(status, [(b"x-a", b"1")], b"".join(body_chunks)), True)
        else:
            await write_stream(
                proto, t, b"GET", Response(status, [(b"x-a", b"1")], stream=stream(), content_length=length), True
            )
        return bytes(t.out)

    return run(main())


@given(
    st.sampled_from([200, 201, 404, 500]),
    st.lists(st.binary(max_size=100), max_size=6),
    st.sampled_from(["whole", "length", "chunked"]),
)
def test_a_reframed_answer_parses_back_the_same(status: int, chunks: list[bytes], how: str) -> None:
    body = b"".join(chunks)
    out = reframe(status, chunks, len(body) if how == "length" else None, how == "whole")
    (answer,) = parse_answers(out)
    assert answer.complete and (answer.status, answer.body) == (status, body)
    if how == "chunked":
        assert out.endswith(b"0\r\n\r\n")
