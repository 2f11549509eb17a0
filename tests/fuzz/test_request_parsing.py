"""Properties of the server's request parsing, on generated and hostile bytes.

- a valid request reaches the handler unchanged however TCP splits it, and pipelined
  ones in order;
- whatever the bytes, nothing escapes as an exception, every byte written parses as
  HTTP/1.1 answers, a refusal is the last answer and closes the connection, and nothing
  ambiguous reaches the handler (one Host, no Transfer-Encoding or Expect, an origin-form
  target); the gathered head never outgrows its limit by more than one read.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from .harness import LIMITS, ServerRun, parse_answers, run_server
from .strategies import hostile_request, splits, valid_request


@given(st.data())
def test_a_valid_request_reaches_the_handler_unchanged_however_it_is_split(data: st.DataObject) -> None:
    wire, want = data.draw(valid_request())
    run = run_server(data.draw(splits(wire)))
    assert len(run.requests) == 1, run.out[:200]
    req = run.requests[0]
    assert (req.method, req.target, req.body) == (want["method"], want["target"], want["body"])
    assert req.headers == want["headers"]
    (answer,) = parse_answers(run.out)
    assert answer.status == 200 and answer.complete


@given(st.data())
def test_pipelined_requests_are_answered_in_order(data: st.DataObject) -> None:
    (w1, want1), (w2, want2) = data.draw(valid_request()), data.draw(valid_request())
    if want1["method"] == b"HEAD" or want2["method"] == b"HEAD":
        return  # a HEAD answer's length cannot be checked by a plain parser
    run = run_server(data.draw(splits(w1 + w2)))
    assert [r.target for r in run.requests] == [want1["target"], want2["target"]]
    answers = parse_answers(run.out)
    assert [a.headers[0] for a in answers if a.complete][:2] == [(b"x-n", b"1"), (b"x-n", b"2")]
    assert [a.body for a in answers] == [want1["body"], want2["body"]]


def check_safe(run: ServerRun, largest_read: int) -> None:
    answers = parse_answers(run.out)  # raises on anything that is not HTTP/1.1 answers
    interim = [a for a in answers if a.status < 200]
    assert len(interim) <= len(run.requests), "an interim answer is only ever sent for a request with a body to come"
    answers = [a for a in answers if a.status >= 200]
    for req in run.requests:
        names = [n for n, _ in req.headers]
        assert names.count(b"host") == 1, req.headers
        assert b"transfer-encoding" not in names and b"expect" not in names, req.headers
        assert req.target[:1] == b"/" or req.target == b"*", req.target
    refusals = [i for i, a in enumerate(answers) if dict(a.headers).get(b"x-gatemesh-reason")]
    if refusals:
        assert refusals == [len(answers) - 1], "a refusal must be the last answer"
        assert run.closed, "a refusal must close the connection"
        assert len(answers) == len(run.requests) + 1
    else:
        assert len(answers) == len(run.requests)
    assert run.max_pending <= LIMITS.max_header_bytes + largest_read


@given(st.data())
def test_hostile_heads_never_crash_never_smuggle(data: st.DataObject) -> None:
    wire = data.draw(hostile_request())
    chunks = data.draw(splits(wire))
    check_safe(run_server(chunks), max(map(len, chunks), default=0))


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=6))
def test_random_bytes_never_crash_never_smuggle(chunks: list[bytes]) -> None:
    check_safe(run_server(chunks), max(map(len, chunks), default=0))


@given(st.integers(1, 64), st.sampled_from([b"GET /", b"GET / HTTP/1.1\r\nHost: a\r\nX: "]))
def test_an_unfinished_head_fed_byte_by_byte_stays_bounded(step: int, start: bytes) -> None:
    flood = start + b"a" * (LIMITS.max_header_bytes + 200)
    run = run_server([flood[i : i + step] for i in range(0, len(flood), step)])
    (answer,) = parse_answers(run.out)
    assert answer.status in (414, 431) and run.closed
    assert run.max_pending <= LIMITS.max_header_bytes + step
