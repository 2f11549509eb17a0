"""gatemesh.refusal and gatemesh.reasons: one table from a reason to its HTTP answer."""

from __future__ import annotations

import json

import pytest

from gatemesh.reasons import STATUS, Reason, status_of
from gatemesh.refusal import Refusal, refusal_response, to_response


def test_every_reason_has_one_status_and_a_typo_names_the_known_ones():
    assert set(STATUS) == set(Reason)
    assert status_of("circuit-open") == 503 and status_of(Reason.TIMEOUT) == 504
    with pytest.raises(ValueError, match="unknown reason 'circuit-opne'; known: timeout"):
        Refusal("circuit-opne", "typo")


@pytest.mark.parametrize(
    "reason,status",
    [(Reason.TIMEOUT, 504), (Reason.UPSTREAM_RESET, 502), (Reason.RATE_LIMITED, 429), (Reason.UNKNOWN_SERVICE, 404)],
)
def test_a_refusal_answers_with_its_status_reason_header_and_a_one_line_body(reason, status):
    resp = to_response(Refusal(reason, "why, in a sentence"), b"gw", attempts=2)
    headers = dict(resp.headers)
    assert resp.status == status and headers[b"x-gatemesh-reason"] == reason.encode()
    assert headers[b"x-gatemesh-proxy"] == b"gw" and headers[b"x-gatemesh-attempts"] == b"2"
    assert json.loads(resp.body) == {"error": "why, in a sentence", "reason": str(reason)}


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one():
    assert (
        dict(refusal_response(Reason.RATE_LIMITED, "slow down", b"gw", retry_after_s=0.01).headers)[b"retry-after"]
        == b"1"
    )
    assert (
        dict(refusal_response(Reason.RATE_LIMITED, "slow down", b"gw", retry_after_s=2.2).headers)[b"retry-after"]
        == b"3"
    )
