"""tracing — a call's trace in a real Jaeger shows the patterns (edge-mesh, edge and mesh).

One topology of its own with Jaeger running (the chaos suite's shared one runs without
tracing); every trace is read back through Jaeger's HTTP query API under the trace id
the client got in X-Gatemesh-Trace-Id.

- retry: a `reset_peer` toxic on catalog-1 → the entry's server span holds two attempt
  spans: #1 to catalog-1 (error, upstream-reset), #2 to catalog-2 (ok), under which the
  called sidecar's server span and the catalog app's span hang. Control: retry off →
  one attempt span, error, and the client gets the failure.
- breaker: catalog failing and the breaker open → the refused call's trace has a refusal
  span (circuit-open) and no attempt span; the call that tripped it carries the
  breaker-open event. Control: breaker off → the same call makes an attempt.
- deadline: the client's X-Gatemesh-Deadline-Ms is seen downstream, on the catalog
  sidecar's server span. Control: no deadline sent → none downstream.
- Jaeger down: the same calls succeed as with Jaeger up, and the drops are counted.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import pytest

from gatemesh.runner.jaeger import JaegerQuery
from gatemesh.topology import PortPlan, Topology, build_topology
from gatemesh.tracing.examples import KINDS, find_examples

from chaoslib import EDGE, MESH, RESET_REASON, Chaos, Result, only, started
from tracelib import (
    attempts,
    children,
    parent_id,
    refusals,
    servers,
    tags,
    traceparent,
    wait_trace,
)

COUNTS = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
ENTRY = {EDGE: "gateway", MESH: "storefront-sidecar"}  # the service name of the entry proxy's spans
PROXY = {EDGE: "gateway", MESH: "sidecar:storefront-1"}  # its name in X-Gatemesh-Attempts
MAX_TRIES = 12  # calls until round robin sends one to catalog-1 first (every other call)
RETRY = {"enabled": True, "max_attempts": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.01}
BREAKER = {"enabled": True, "consecutive_failures": 2, "minimum_calls": 100, "open_s": 60.0}
DEADLINE_MS = 4000
JAEGER_DOWN_CALLS = 20

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def traced(port_bases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    def build(plan: PortPlan) -> Topology:
        return build_topology(
            "edge-mesh", plan, COUNTS, rate_per_s=100_000, burst=100_000, jaeger=True, dashboard=False
        )

    with started(port_bases, tmp_path_factory.mktemp("tracing"), "tracing", build) as runner:
        chaos = Chaos(runner)
        chaos.reset()
        yield chaos


@pytest.fixture
def chaos(traced: Chaos) -> Iterator[Chaos]:
    traced.reset()
    yield traced
    traced.reset()


def jaeger(chaos: Chaos) -> JaegerQuery:
    url = chaos.runner.topology.endpoints.jaeger
    assert url is not None
    return JaegerQuery(url)


def first_try_at_faulty(chaos: Chaos, where: str, client_trace: bool = False) -> tuple[Result, str | None]:
    """A call whose first attempt went to the faulty catalog-1: with retry it took two
    tries at the entry proxy, without it the call failed. With `client_trace` each call
    carries a traceparent of its own (a new trace id), as a traced client would send."""
    for _ in range(MAX_TRIES):
        sent = secrets.token_hex(16) if client_trace else None
        r = chaos.call(where, "catalog", headers={"traceparent": traceparent(sent)} if sent else {})
        if not r.ok or (r.attempts or "").startswith(f"{PROXY[where]}=2"):
            return r, sent
    raise AssertionError(f"no call in {MAX_TRIES} went to catalog-1 first")


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_a_retried_call_shows_both_attempts_under_the_trace_id_the_client_got(chaos, where):
    chaos.set_policy(where, "catalog", only(retry=RETRY))
    chaos.faults.reset_peer("catalog-1")
    r, sent = first_try_at_faulty(chaos, where, client_trace=True)
    assert r.ok and r.instance == "catalog-2", r
    trace_id = r.headers["X-Gatemesh-Trace-Id"]
    assert trace_id == sent  # the client's traceparent was continued, not replaced

    def complete(spans: list) -> bool:  # the whole chain: entry → attempt #2 → sidecar → its attempt → app
        tries = attempts(spans, ENTRY[where])
        called = [s for s in servers(spans, "catalog-sidecar") if tries and parent_id(s) == tries[-1]["spanID"]]
        local = [a for c in called for a in attempts(children(spans, c), "catalog-sidecar")]
        return (
            len(tries) == 2
            and bool(servers(spans, ENTRY[where]))
            and any(parent_id(app) == a["spanID"] for app in servers(spans, "catalog") for a in local)
        )

    spans = wait_trace(jaeger(chaos), trace_id, complete)
    assert all(s["traceID"] == trace_id for s in spans)
    (entry,) = servers(spans, ENTRY[where])
    assert parent_id(entry) == "00f067aa0ba902b7"  # under the client's own span
    first, second = attempts(spans, ENTRY[where])
    assert parent_id(first) == parent_id(second) == entry["spanID"]
    t1, t2 = tags(first), tags(second)
    assert (t1["gatemesh.attempt"], t1["gatemesh.instance"], t1["gatemesh.outcome"]) == (1, "catalog-1", "error")
    assert t1["gatemesh.reason"] == RESET_REASON and t1["error.type"] == RESET_REASON
    assert (t2["gatemesh.attempt"], t2["gatemesh.instance"], t2["gatemesh.outcome"]) == (2, "catalog-2", "ok")
    assert t2["http.response.status_code"] == 200 and t2["http.request.resend_count"] == 1
    assert json.loads(t2["gatemesh.tried"]) == ["catalog-1"] and t2["gatemesh.backoff_ms"] > 0
    # the called sidecar (catalog-2's) under attempt #2, and the app under the sidecar's own attempt
    (sidecar,) = [s for s in servers(spans, "catalog-sidecar") if parent_id(s) == second["spanID"]]
    assert sidecar["process_tags"]["service.instance.id"] == "catalog-2"
    (local,) = attempts(children(spans, sidecar), "catalog-sidecar")
    (app,) = children(spans, local)
    assert app["service"] == "catalog" and app["process_tags"]["service.instance.id"] == "catalog-2"


@pytest.mark.retry
@pytest.mark.parametrize("where", WHERE)
def test_control_without_retry_the_trace_has_one_failed_attempt_and_the_client_the_error(chaos, where):
    chaos.set_policy(where, "catalog", only())
    chaos.faults.reset_peer("catalog-1")
    r, _ = first_try_at_faulty(chaos, where)
    assert not r.ok and r.reason == RESET_REASON, r
    spans = wait_trace(
        jaeger(chaos),
        r.headers["X-Gatemesh-Trace-Id"],
        lambda s: bool(attempts(s, ENTRY[where]) and servers(s, ENTRY[where])),
    )
    (only_try,) = attempts(spans, ENTRY[where])
    assert tags(only_try)["gatemesh.instance"] == "catalog-1" and tags(only_try)["gatemesh.outcome"] == "error"
    (entry,) = servers(spans, ENTRY[where])
    assert tags(entry)["http.response.status_code"] == r.status and tags(entry)["gatemesh.reason"] == RESET_REASON


def trip(chaos: Chaos, where: str) -> list[Result]:
    """catalog failing on both instances; calls until one is refused (or 6 were made)."""
    chaos.faults.reset_peer("catalog-1")
    chaos.faults.reset_peer("catalog-2")
    results = []
    for _ in range(6):
        results.append(chaos.call(where, "catalog"))
        if results[-1].reason == "circuit-open":
            break
    return results


@pytest.mark.breaker
@pytest.mark.parametrize("where", WHERE)
def test_a_call_refused_by_an_open_breaker_has_a_refusal_span_and_no_attempt(chaos, where):
    chaos.set_policy(where, "catalog", only(breaker=BREAKER))
    results = trip(chaos, where)
    refused = results[-1]
    assert refused.reason == "circuit-open" and refused.status == 503, results
    q = jaeger(chaos)
    spans = wait_trace(
        q, refused.headers["X-Gatemesh-Trace-Id"], lambda s: bool(refusals(s) and servers(s, ENTRY[where]))
    )
    (refusal,) = refusals(spans)
    assert tags(refusal)["gatemesh.reason"] == "circuit-open" and tags(refusal)["peer.service"] == "catalog"
    (entry,) = servers(spans, ENTRY[where])
    assert parent_id(refusal) == entry["spanID"]
    assert attempts(spans) == [] and children(spans, refusal) == []
    # the call that tripped it carries the transition as a span event
    tripping = results[-2]
    spans = wait_trace(q, tripping.headers["X-Gatemesh-Trace-Id"], lambda s: bool(servers(s, ENTRY[where])))
    (entry,) = servers(spans, ENTRY[where])
    events = [f["value"] for log in entry.get("logs") or [] for f in log["fields"] if f["key"] == "event"]
    assert "breaker-open" in events, entry.get("logs")


@pytest.mark.breaker
@pytest.mark.parametrize("where", WHERE)
def test_control_without_breaker_the_same_call_makes_an_attempt(chaos, where):
    chaos.set_policy(where, "catalog", only())
    results = trip(chaos, where)
    assert len(results) == 6 and all(r.reason == RESET_REASON for r in results), results
    spans = wait_trace(
        jaeger(chaos), results[-1].headers["X-Gatemesh-Trace-Id"], lambda s: bool(attempts(s, ENTRY[where]))
    )
    (attempt,) = attempts(spans, ENTRY[where])
    assert refusals(spans) == [] and tags(attempt)["gatemesh.outcome"] == "error"


@pytest.mark.timeouts
@pytest.mark.parametrize("sent", [DEADLINE_MS, None], ids=["deadline", "control-no-deadline"])
def test_a_propagated_deadline_is_an_attribute_downstream(chaos, sent):
    chaos.set_policy(EDGE, "catalog", only())
    headers = {"X-Gatemesh-Deadline-Ms": str(sent)} if sent else {}
    r = chaos.call(EDGE, "catalog", headers=headers)
    assert r.ok, r
    spans = wait_trace(
        jaeger(chaos),
        r.headers["X-Gatemesh-Trace-Id"],
        lambda s: bool(servers(s, "catalog-sidecar") and attempts(s, "gateway")),
    )
    (sidecar,) = servers(spans, "catalog-sidecar")
    (attempt,) = attempts(spans, "gateway")
    if sent is None:
        assert "gatemesh.deadline.received_ms" not in tags(sidecar)
        assert "gatemesh.deadline.remaining_ms" not in tags(attempt)
        return
    received = int(tags(sidecar)["gatemesh.deadline.received_ms"])
    assert 0 < received <= DEADLINE_MS
    assert 0 < tags(attempt)["gatemesh.deadline.remaining_ms"] <= DEADLINE_MS


def test_a_malformed_traceparent_starts_a_new_trace_and_is_counted(chaos):
    before = chaos._json("GET", f"{chaos.gateway_admin}/-/tracing")["malformed_traceparent"]
    r = chaos.call(EDGE, "catalog", headers={"traceparent": "00-not-a-trace-01"})
    assert r.ok, r
    trace_id = r.headers["X-Gatemesh-Trace-Id"]
    assert len(trace_id) == 32 and trace_id != "0" * 32
    spans = wait_trace(jaeger(chaos), trace_id, lambda s: bool(servers(s, "gateway")))
    (entry,) = servers(spans, "gateway")
    assert parent_id(entry) is None and tags(entry)["gatemesh.traceparent.malformed"] == "00-not-a-trace-01"
    assert chaos._json("GET", f"{chaos.gateway_admin}/-/tracing")["malformed_traceparent"] == before + 1


def calls(chaos: Chaos) -> list[Result]:
    return [chaos.call(where, "catalog") for where in (EDGE, MESH) for _ in range(JAEGER_DOWN_CALLS // 2)]


def test_jaeger_down_changes_nothing_for_traffic_and_the_drops_are_counted(chaos):
    """Control arm first (Jaeger up), then the same calls with Jaeger killed."""
    chaos.set_policy(EDGE, "catalog", only())
    chaos.set_policy(MESH, "catalog", only())
    up = calls(chaos)
    assert all(r.ok for r in up), up
    chaos.runner.kill("jaeger")
    try:
        down = calls(chaos)
        assert [r.ok for r in down] == [r.ok for r in up], down
        assert all(r.headers.get("X-Gatemesh-Trace-Id") for r in down)  # still traced, only not exported

        def dropped() -> int:
            return chaos._json("GET", f"{chaos.gateway_admin}/-/tracing")["spans"]["dropped_export_failed"]

        chaos.wait_until("the gateway counts the spans it could not export", lambda: dropped() > 0, timeout_s=20)
    finally:
        chaos.runner.restart("jaeger")
    time.sleep(0.5)
    r = chaos.call(EDGE, "catalog")
    assert r.ok
    wait_trace(jaeger(chaos), r.headers["X-Gatemesh-Trace-Id"], lambda s: bool(servers(s, "gateway")))


def test_the_experiment_report_finds_example_traces_in_jaeger(chaos):
    """gatemesh.tracing.examples, as `gatemesh experiment` calls it for each arm's window:
    a retried call and a fail-fast refusal found by Jaeger's tag search. Control: before
    the window's calls happened, nothing is found."""
    url = chaos.runner.topology.endpoints.jaeger
    assert url is not None
    start = time.time()
    assert find_examples(url, start - 0.001, start) == dict.fromkeys(KINDS)  # control: an empty window
    chaos.set_policy(EDGE, "catalog", only(retry=RETRY, breaker=BREAKER))
    chaos.faults.reset_peer("catalog-1")
    retried, _ = first_try_at_faulty(chaos, EDGE)
    chaos.faults.reset_peer("catalog-2")
    refused = [chaos.call(EDGE, "catalog") for _ in range(4)][-1]
    assert refused.reason == "circuit-open", refused

    def found() -> dict:
        return find_examples(url, start, time.time() + 1)

    chaos.wait_until(
        "Jaeger has both examples", lambda: None not in [found()["retried call"], found()["fail-fast refusal"]], 15
    )
    examples = found()
    spans = wait_trace(jaeger(chaos), examples["retried call"], lambda s: len(attempts(s, "gateway")) == 2)
    assert [tags(a)["gatemesh.attempt"] for a in attempts(spans, "gateway")] == [1, 2]
    spans = wait_trace(jaeger(chaos), examples["fail-fast refusal"], lambda s: bool(refusals(s)))
    assert attempts(spans, "gateway") == []
    assert retried.ok and retried.attempts.startswith("gateway=2")  # the call the example stands for
