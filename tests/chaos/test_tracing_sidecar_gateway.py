"""tracing in `sidecar-gateway` — no gateway: the storefront's exposed sidecar is the entry,
the storefront app composes the page through its own sidecar, whose mesh policy retries.

- retry: a `reset_peer` toxic on catalog-1 → under the trace id the client got back: the
  entry's server span, the storefront app's handler and outbound call, the storefront
  sidecar's outbound server span with two attempt spans (#1 to catalog-1, error,
  upstream-reset; #2 to catalog-2, ok), and catalog-2's sidecar and app under #2.
  Control: retry off → one failed attempt to catalog-1, and the page is refused.
- breaker: catalog failing and the mesh breaker open → the refused part's trace has a
  refusal span (circuit-open) and no attempt to catalog. Control: breaker off → an attempt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from gatemesh.faults import Faults
from gatemesh.policy import Policy
from gatemesh.policy_client import PolicyClient
from gatemesh.runner import ProcessRunner
from gatemesh.runner.jaeger import JaegerQuery
from gatemesh.topology import PortPlan, Topology, build_topology

from chaoslib import RESET_REASON, baseline, only, started
from tracelib import attempts, children, parent_id, refusals, servers, tags, wait_trace

COUNTS = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
RETRY = {"enabled": True, "max_attempts": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.01}
BREAKER = {"enabled": True, "consecutive_failures": 2, "minimum_calls": 100, "open_s": 60.0}
MAX_TRIES = 12
ENTRY = "storefront-sidecar"

pytestmark = [pytest.mark.chaos, pytest.mark.mesh, pytest.mark.slow]


@dataclass
class Run:
    runner: ProcessRunner
    faults: Faults
    policies: PolicyClient
    jaeger: JaegerQuery
    entry: str
    key: str
    admin: str  # the storefront sidecar's admin base (its app-local outbound listener; the inbound has no /-/*)

    def page(self) -> requests.Response:
        return requests.get(f"{self.entry}/products/1", headers={"X-Api-Key": self.key}, timeout=10)

    def mesh_policy(self, policy: Policy) -> None:
        self.policies.put("mesh", {"catalog": policy})

    def reset(self) -> None:
        self.faults.reset(restart_dead=True)
        self.policies.put("mesh", {"catalog": baseline()})
        requests.post(f"{self.admin}/-/reset", timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def run(port_bases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    def build(plan: PortPlan) -> Topology:
        return build_topology(
            "sidecar-gateway", plan, COUNTS, rate_per_s=100_000, burst=100_000, jaeger=True, dashboard=False
        )

    with started(port_bases, tmp_path_factory.mktemp("tracing-sg"), "sidecar-gateway", build) as runner:
        topology = runner.topology
        sidecar = topology.component("sidecar-storefront-1")
        assert topology.endpoints.jaeger and topology.api_key
        r = Run(
            runner,
            Faults.for_runner(runner),
            PolicyClient.from_status(runner.status()),
            JaegerQuery(topology.endpoints.jaeger),
            topology.endpoints.entry,
            topology.api_key,
            f"http://127.0.0.1:{sidecar.listen['outbound']}",
        )
        r.reset()
        yield r


@pytest.fixture
def sg(run: Run) -> Iterator[Run]:
    run.reset()
    yield run
    run.reset()


def catalog_attempts(spans: list) -> list:
    return [a for a in attempts(spans, ENTRY) if tags(a).get("peer.service") == "catalog"]


def page_hitting_catalog_1(sg: Run) -> requests.Response:
    """A page whose catalog part went to the faulty catalog-1 first."""
    for _ in range(MAX_TRIES):
        resp = sg.page()
        if resp.status_code != 200 or "sidecar:storefront-1=2" in resp.headers.get("X-Gatemesh-Attempts", ""):
            return resp
        # the page's own header names the entry hop only: look at the trace instead
        spans = wait_trace(sg.jaeger, resp.headers["X-Gatemesh-Trace-Id"], lambda s: bool(catalog_attempts(s)))
        if len(catalog_attempts(spans)) == 2:
            return resp
    raise AssertionError(f"no page in {MAX_TRIES} sent its catalog call to catalog-1 first")


def test_a_retried_part_shows_both_attempts_in_the_page_trace(sg):
    sg.mesh_policy(only(retry=RETRY))
    sg.faults.reset_peer("catalog-1")
    resp = page_hitting_catalog_1(sg)
    assert resp.status_code == 200, resp.text
    trace_id = resp.headers["X-Gatemesh-Trace-Id"]

    def complete(spans: list) -> bool:
        tries = catalog_attempts(spans)
        return (
            len(tries) == 2
            and any(parent_id(s) == tries[-1]["spanID"] for s in servers(spans, "catalog-sidecar"))
            and bool(servers(spans, "catalog"))
            and len(servers(spans, ENTRY)) >= 2
            and bool(servers(spans, "storefront"))
        )

    spans = wait_trace(sg.jaeger, trace_id, complete)
    assert all(s["traceID"] == trace_id for s in spans)
    entry = next(s for s in servers(spans, ENTRY) if parent_id(s) is None)  # the trace starts at the entry
    (app,) = servers(spans, "storefront")
    (local,) = [a for a in attempts(children(spans, entry), ENTRY)]
    assert parent_id(app) == local["spanID"]  # entry sidecar → its app
    first, second = catalog_attempts(spans)
    outbound = next(s for s in spans if s["spanID"] == parent_id(first))
    assert outbound["service"] == ENTRY and parent_id(second) == outbound["spanID"]
    # the outbound side's server span hangs under the app's own client span (OpenTelemetry's aiohttp client)
    app_client = next(s for s in spans if s["spanID"] == parent_id(outbound))
    assert app_client["service"] == "storefront" and tags(app_client)["span.kind"] == "client"
    t1, t2 = tags(first), tags(second)
    assert (t1["gatemesh.instance"], t1["gatemesh.outcome"], t1["gatemesh.reason"]) == (
        "catalog-1",
        "error",
        RESET_REASON,
    )
    assert (t2["gatemesh.instance"], t2["gatemesh.outcome"]) == ("catalog-2", "ok")
    (called,) = [s for s in servers(spans, "catalog-sidecar") if parent_id(s) == second["spanID"]]
    assert called["process_tags"]["service.instance.id"] == "catalog-2"


def test_control_without_retry_the_part_has_one_failed_attempt(sg):
    sg.mesh_policy(only())
    sg.faults.reset_peer("catalog-1")
    resp = page_hitting_catalog_1(sg)
    assert resp.status_code == 503, resp.text
    spans = wait_trace(sg.jaeger, resp.headers["X-Gatemesh-Trace-Id"], lambda s: bool(catalog_attempts(s)))
    (only_try,) = catalog_attempts(spans)
    assert tags(only_try)["gatemesh.instance"] == "catalog-1" and tags(only_try)["gatemesh.outcome"] == "error"


def trip(sg: Run) -> list[requests.Response]:
    sg.faults.reset_peer("catalog-1")
    sg.faults.reset_peer("catalog-2")
    pages = []
    for _ in range(6):
        pages.append(sg.page())
        if "circuit-open" in pages[-1].text:
            break
    return pages


def test_a_part_refused_by_an_open_breaker_has_a_refusal_span_and_no_catalog_attempt(sg):
    sg.mesh_policy(only(breaker=BREAKER))
    pages = trip(sg)
    refused = pages[-1]
    assert refused.status_code == 503 and refused.json()["reasons"]["catalog"] == "circuit-open", refused.text
    spans = wait_trace(sg.jaeger, refused.headers["X-Gatemesh-Trace-Id"], lambda s: bool(refusals(s)))
    (refusal,) = refusals(spans)
    assert tags(refusal)["gatemesh.reason"] == "circuit-open" and tags(refusal)["peer.service"] == "catalog"
    assert catalog_attempts(spans) == [] and children(spans, refusal) == []


def test_control_without_breaker_the_part_makes_an_attempt(sg):
    sg.mesh_policy(only())
    pages = trip(sg)
    assert len(pages) == 6 and all(p.status_code == 503 for p in pages)
    spans = wait_trace(sg.jaeger, pages[-1].headers["X-Gatemesh-Trace-Id"], lambda s: bool(catalog_attempts(s)))
    assert refusals(spans) == [] and tags(catalog_attempts(spans)[0])["gatemesh.outcome"] == "error"
