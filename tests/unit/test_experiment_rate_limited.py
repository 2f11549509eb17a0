"""A rate-limited experiment says so in its summary, and the demo key's limit covers the
load examples (issue 12, item 5)."""

from __future__ import annotations

from gatemesh.experiment.summary import rate_limit_sentence, rate_limited
from gatemesh.topology import apis


def arm(name: str, reasons: dict[str, int]) -> dict:
    return {"arm": name, "phases": {"all": {"reasons": reasons}}}


def test_an_arm_with_429s_is_named_with_its_count():
    results = [arm("off", {"rate-limited": 12, "circuit-open": 3}), arm("on", {"pricing=rate-limited": 2})]
    assert [rate_limited(r) for r in results] == [12, 2]
    sentence = rate_limit_sentence(results)
    assert sentence and "12 in arm off" in sentence and "2 in arm on" in sentence and "rate limited" in sentence


def test_a_run_without_429s_says_nothing_about_it():
    assert rate_limit_sentence([arm("off", {"timeout": 4}), arm("on", {})]) is None


def test_the_demo_keys_limit_covers_the_largest_load_example():
    users, shortest_think_s = 50, 0.1  # loadtests/shapes/spike.py's -u 50; common.py's between(0.1, 0.3)
    assert apis.DEFAULT_RATE_PER_S >= users / shortest_think_s
    assert apis.DEFAULT_BURST >= apis.DEFAULT_RATE_PER_S
