"""What the config predicts for an experiment arm, on figures made by hand."""

from __future__ import annotations

from gatemesh.experiment.designs import DESIGNS
from gatemesh.experiment.predict import predict
from gatemesh.experiment.summary import plain_terms


def arm(design: str, location: str, requests: float, amplification: float, trip: float | None) -> dict:
    policy = DESIGNS[design].policy(True).to_dict()
    return {
        "location": location,
        "policy": {"edge": policy, "mesh": policy},
        "timeline": {"fault_on_s": 10.0, "fault_off_s": 20.0},
        "time_to_trip_s": trip,
        "proxy": {"by_location": {location: {"requests": requests, "amplification": amplification}}},
    }


def test_a_breaker_that_trips_as_its_count_says_agrees():
    # 100 gateway calls in the 10 s fault; 5 failures of 0.5 s with 3 in flight → ~1 s; then 3 probes per 5.5 s
    p = predict(DESIGNS["breaker"], arm("breaker", "edge", 100, 0.10, 1.2), users=6, counts={"pricing": 2})
    assert p["time_to_trip_s"]["predicted"] == 1.0
    assert 0.05 < p["attempts_per_call"]["predicted"] < 0.15 and p["agree"] is True
    assert "they agree" in p["sentence"] and "opens after 5 failures" in p["sentence"]


def test_a_breaker_that_never_tripped_disagrees():
    p = predict(DESIGNS["breaker"], arm("breaker", "edge", 100, 1.0, None), users=6, counts={"pricing": 2})
    assert p["agree"] is False and "they disagree" in p["sentence"]


def test_the_budget_allows_its_ratio_plus_its_floor():
    # 200 mesh calls in 10 s, 2 storefront sidecars: 20% + 1/s x 10 s x 2 = 60 retries → 1.3 per call
    p = predict(DESIGNS["budget"], arm("budget", "mesh", 200, 1.35, None), users=6, counts={"storefront": 2})
    assert p["attempts_per_call"]["predicted"] == 1.3 and p["agree"] is True


def test_discovery_predicts_an_immediate_reaction_and_one_attempt_per_call():
    # the live arm has no placement: every proxy watches the registry, so the totals are compared
    live = {**arm("discovery", "edge", 0, 0.0, 0.2), "location": None}
    live["proxy"] = {"requests": 300, "amplification": 1.0}
    p = predict(DESIGNS["discovery"], live, 6, {"catalog": 3})
    assert p["time_to_trip_s"]["predicted"] == 0.0 and p["attempts_per_call"]["predicted"] == 1.0
    assert p["agree"] is True and "deregisters before it drains" in p["sentence"]
    late = {**live, "time_to_trip_s": 3.5}  # a proxy that heard only after a TTL expired: a lesson
    assert predict(DESIGNS["discovery"], late, 6, {"catalog": 3})["agree"] is False


def test_no_prediction_without_a_model_or_a_placement():
    assert predict(DESIGNS["breaker"], {**arm("breaker", "edge", 10, 1.0, None), "location": None}, 6, {}) is None


def test_plain_terms_name_the_latency_the_calls_spared_and_the_cost():
    def result(p50: float, calls: int, recover: float, after_ok: float) -> dict:
        return {
            "phases": {"during": {"p50_ms": p50}, "after": {"requests": 100, "success_rate": after_ok}},
            "calls_at_faulty": calls,
            "time_to_recover_s": recover,
        }

    text = plain_terms(result(504, 300, 0.0, 1.0), result(10, 12, 4.0, 0.9), DESIGNS["breaker"])
    assert "the median page took 504 ms without it and 10 ms with it" in text
    assert "received 288 fewer calls (300 → 12)" in text
    assert "the cost: pages took 4.0 s to recover after the fault, against 0.0 s without it" in text
