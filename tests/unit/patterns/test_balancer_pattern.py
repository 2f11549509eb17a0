"""gatemesh.patterns.balancer: round robin evenness and power-of-two-choices."""

import random
from collections import Counter

import pytest

from gatemesh.patterns.balancer import BalancerConfig, LeastRequestBalancer, RoundRobinBalancer, make_balancer


def test_round_robin_takes_turns_evenly():
    rr = RoundRobinBalancer()
    picks = Counter(rr.pick(["a", "b", "c"]) for _ in range(300))
    assert picks == {"a": 100, "b": 100, "c": 100}


def test_round_robin_skips_excluded_endpoints_without_doubling_the_next_one():
    rr = RoundRobinBalancer()
    picks = Counter(rr.pick(["a", "b", "c"], exclude={"a"}) for _ in range(300))
    assert picks == {"b": 150, "c": 150}


def test_round_robin_retry_goes_to_a_different_endpoint():
    rr = RoundRobinBalancer()
    endpoints = ["a", "b", "c"]
    for _ in range(30):
        first = rr.pick(endpoints)
        second = rr.pick(endpoints, exclude=(first,))
        assert second != first


def test_round_robin_stays_even_when_an_endpoint_leaves_and_comes_back():
    rr = RoundRobinBalancer(start=5)
    full, without_b = ["a", "b", "c", "d"], ["a", "c", "d"]
    phases = [(full, 401), (without_b, 300), (full, 400), (without_b, 299)]
    for endpoints, calls in phases:
        picks = Counter(rr.pick(list(endpoints)) for _ in range(calls))  # a new list object each call
        assert set(picks) == set(endpoints)
        assert max(picks.values()) - min(picks.values()) <= 2  # at most one uneven turn per change


def test_round_robin_stays_even_when_the_list_changes_at_random():
    rng = random.Random(2)
    rr = RoundRobinBalancer()
    picks, fair = Counter(), Counter()
    endpoints = ["a"]
    for step in range(20_000):
        if step % 3 == 0:
            endpoints = [e for e in "abcdef" if rng.random() < 0.7] or ["a"]
        picks[rr.pick(endpoints)] += 1
        for e in endpoints:
            fair[e] += 1 / len(endpoints)
    for e, share in fair.items():
        assert picks[e] == pytest.approx(share, rel=0.05)


def test_round_robin_with_everything_excluded_or_nothing_listed_gives_none():
    rr = RoundRobinBalancer()
    assert rr.pick([]) is None
    assert rr.pick(["a", "b"], exclude={"a", "b"}) is None


def test_least_request_prefers_the_less_loaded_of_two():
    lb = LeastRequestBalancer(random.Random(3))
    for _ in range(10):
        lb.on_start("slow")
    picks = Counter(lb.pick(["slow", "fast"]) for _ in range(200))
    assert picks == {"fast": 200}


def test_least_request_spreads_load_towards_idle_endpoints():
    lb = LeastRequestBalancer(random.Random(5))
    endpoints = ["a", "b", "c", "d"]
    for _ in range(50):
        lb.on_start("a")  # "a" is busy
    picks = Counter(lb.pick(endpoints) for _ in range(3000))
    assert picks["a"] == 0  # with two distinct choices, "a" always loses to the other one
    for e in "bcd":
        assert picks[e] == pytest.approx(1000, rel=0.15)


def test_least_request_keeps_in_flight_counts_and_forgets_idle_endpoints():
    lb = LeastRequestBalancer(random.Random(0))
    lb.on_start("a")
    lb.on_start("a")
    lb.on_end("a")
    assert lb.in_flight("a") == 1
    lb.on_end("a")
    lb.on_end("a")
    assert lb.in_flight("a") == 0 and lb._in_flight == {}


def test_least_request_skips_excluded_and_handles_tiny_lists():
    lb = LeastRequestBalancer(random.Random(0))
    assert lb.pick([]) is None
    assert lb.pick(["only"]) == "only"
    assert lb.pick(["a", "b"], exclude=("a",)) == "b"
    assert lb.pick(["a"], exclude=("a",)) is None
    assert {lb.pick(["a", "b", "c"], exclude={"b"}) for _ in range(100)} == {"a", "c"}


def test_make_balancer_builds_the_configured_kind():
    rng = random.Random(0)
    assert isinstance(make_balancer(BalancerConfig(), rng), RoundRobinBalancer)
    assert isinstance(make_balancer(BalancerConfig(kind="least_request"), rng), LeastRequestBalancer)


def test_unknown_balancer_kind_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"balancer\.kind must be one of round_robin, least_request"):
        BalancerConfig(kind="random")
