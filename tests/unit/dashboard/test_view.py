"""The dashboard's pure parts: metric deltas and quantiles, the view from two samples,
the sentences, the load's and the config's validation."""

from __future__ import annotations

import pytest

from gatemesh.dashboard import words
from gatemesh.dashboard.config import DashboardConfig
from gatemesh.dashboard.load import LoadError, LoadSpec, loopback
from gatemesh.dashboard.parts import Part, Parts, base_url
from gatemesh.dashboard.prom import delta, parse, quantile
from gatemesh.dashboard.sample import Sample
from gatemesh.dashboard.view import ViewBuilder
from gatemesh.metrics import ProxyMetrics


def metrics_text(ok: int, errors: int, latency_s: float) -> str:
    m = ProxyMetrics("gateway")
    for _ in range(ok):
        m.count_request("pricing", "ok")
        m.count_attempt("pricing", "pricing-1", "200")
        m.observe_latency("pricing", latency_s)
    for _ in range(errors):
        m.count_request("pricing", "5xx")
        m.count_attempt("pricing", "pricing-2", "503")
        m.observe_latency("pricing", latency_s)
    return m.exposition().decode()


def test_parse_reads_the_proxys_own_exposition():
    c = parse(metrics_text(3, 1, 0.004))
    assert c.requests == {("pricing", "ok"): 3.0, ("pricing", "5xx"): 1.0}
    assert c.attempts[("pricing", "pricing-2", "503")] == 1.0
    assert c.buckets["pricing"][-1] == (float("inf"), 4.0)


def test_delta_counts_a_restarted_counter_from_zero():
    assert delta({"a": 5.0, "b": 2.0}, {"a": 3.0, "b": 9.0}) == {"a": 2.0, "b": 2.0}


def test_quantile_interpolates_inside_the_bucket_between_two_reads():
    old = [(0.001, 0.0), (0.01, 0.0), (float("inf"), 0.0)]
    new = [(0.001, 0.0), (0.01, 100.0), (float("inf"), 100.0)]
    assert quantile(new, old, 0.5) == pytest.approx(0.0055)
    assert quantile(new, new, 0.5) is None  # nothing happened in between


def sample(at: float, text: str, upstreams: dict, parts: Parts) -> Sample:
    s = Sample(at, parts)
    s.counters["gateway"] = parse(text)
    s.upstreams["gateway"] = upstreams
    s.registry = {"services": {"pricing": [{"id": "pricing-1"}, {"id": "pricing-2"}]}}
    s.toxiproxy = {
        "pricing-1": {"enabled": True, "toxics": [{"type": "latency", "attributes": {"latency": 2000}}]},
        "pricing-2": {"enabled": True, "toxics": []},
    }
    s.misbehave = {"pricing-1": {"error_rate": 0}, "pricing-2": {"error_rate": 1.0, "error_status": 503}}
    s.policies = {"edge": {"*": {}, "pricing": {"breaker": {"enabled": False}}}}
    return s


def test_the_view_says_in_words_what_the_picture_shows():
    parts = Parts(
        {"topology": "edge", "gateway": "http://127.0.0.1:1"},
        [
            Part("gateway", "gateway", None, None, "http://127.0.0.1:1", True),
            Part("pricing-1", "service", "pricing", "pricing-1", "http://127.0.0.1:2", True),
            Part("pricing-2", "service", "pricing", "pricing-2", "http://127.0.0.1:3", False),
        ],
        supervised=True,
    )
    ups = {
        "pricing": {
            "endpoints": {"pricing-1": "a", "pricing-2": "b"},
            "breaker": "closed",
            "instance_breakers": {"pricing-2": "open"},
            "ejected": ["pricing-2"],
            "ejected_s_left": {"pricing-2": 23.0},
            "budget": {"enabled": True, "allowed": 10, "retries": 2},
            "in_flight": 1,
        }
    }
    b = ViewBuilder()
    b.build(sample(100.0, metrics_text(0, 0, 0.01), ups, parts))
    second = sample(102.0, metrics_text(10, 10, 0.01), ups, parts)
    second.events = [
        {
            "kind": "ejected",
            "proxy": "gateway",
            "upstream": "pricing",
            "instance": "pricing-2",
            "at": 95.0,
            "cause": "pricing-2 failed 5 times in a row; ejected for 30 s (ejection #1).",
        }
    ]
    view = b.build(second)
    edge = next(e for e in view["edges"] if e["id"] == "gateway>pricing")
    assert edge["rps"] == pytest.approx(10.0) and edge["success"] == pytest.approx(0.5)
    assert edge["label"].startswith("gateway to pricing: 10.0 requests/s, 50% success, p50 ")
    p1, p2 = view["services"][0]["instances"]
    assert p1["label"] == (
        "pricing-1: latency 2000 ms on its wire, breaker closed at the gateway, 5.0 calls/s, 100% success"
    )
    assert p2["label"] == (
        "pricing-2: killed (not running), misbehaving (100% errors 503), breaker open at "
        "the gateway, ejected at the gateway (23 s left), 5.0 calls/s, 0% success"
    )
    assert view["services"][0]["label"] == "pricing: 1 of 2 instances running, breaker off at the gateway"
    assert view["proxies"][0]["label"].endswith("1 in flight, retry budget 2 of 10 used")
    assert view["policies"]["edge"]["pricing"]["breaker"] is False


def test_a_proxy_that_does_not_answer_is_down_in_words():
    assert words.proxy({"name": "sidecar-x", "up": False, "alive": True, "paused": True}) == "sidecar-x: down (paused)"
    assert words.breaker("mesh", {"state": "open", "count": 1, "of": 2}) == "breaker open in the mesh (1 of 2 sidecars)"


def test_load_spec_refuses_bad_settings_with_a_sentence():
    cfg = DashboardConfig()
    assert LoadSpec.parse({"rate_per_s": 5, "mix": {"products": 1}}, cfg).rate_per_s == 5
    for body, text in (
        ({"rate_per_s": -3}, "rate_per_s must be above 0"),
        ({"rate_per_s": 1e6}, "at most 200"),
        ({"mix": {"nope": 1}}, "unknown path 'nope'"),
        ({"mix": {"products": 0}}, "at least one weight"),
        ({"duration_s": "x"}, "must be numbers"),
    ):
        with pytest.raises(LoadError, match=text):
            LoadSpec.parse(body, cfg)


def test_the_load_only_targets_loopback():
    assert loopback("http://127.0.0.1:8080") and loopback("http://localhost:1")
    assert not loopback("http://192.0.2.1:8080") and not loopback("http://example.org")


def test_config_validates_with_a_sentence():
    with pytest.raises(ValueError, match="fetch_timeout_s must be positive and shorter"):
        DashboardConfig(fetch_timeout_s=2.0)


def test_base_url_strips_the_health_path():
    assert base_url("http://h:1/health") == "http://h:1" and base_url("http://h:2/version") == "http://h:2"
