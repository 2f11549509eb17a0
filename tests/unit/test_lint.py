"""`gatemesh lint`: each trap is flagged on a setup that has it, with its numbers, and
the defaults with no fault are quiet."""

from __future__ import annotations

import pytest

from gatemesh.lint import Fault, LintError, Setup, Traffic, lint
from gatemesh.lint.spec import parse_fault
from gatemesh.policy import Policy, PolicyTable
from gatemesh.presets import PRESETS, preset
from gatemesh.topology import TOPOLOGIES


def tables(topology: str, edge: Policy | None = None, mesh: Policy | None = None) -> dict[str, PolicyTable]:
    out = {"edge": PolicyTable(default=edge or Policy()), "mesh": PolicyTable(default=mesh or Policy())}
    if topology == "edge":
        out.pop("mesh")
    if topology in ("mesh", "sidecar-gateway"):
        out.pop("edge")
    return out


def codes(setup: Setup) -> list[tuple[str, str, str]]:
    return [(f.code, f.placement, f.service) for f in lint(setup)]


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_the_defaults_without_a_fault_are_quiet(topology):
    assert lint(Setup(topology, tables(topology))) == []


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_without_a_fault_names_only_what_is_wrong_for_any_traffic(name):
    found = {f.code for f in lint(Setup("edge-mesh", tables("edge-mesh", preset(name), preset(name))))}
    assert found <= {"attempt-timeout", "tries-multiply"}, found
    if name == "envoy":  # per-try timeout unset: one try may use the whole 15 s
        assert "attempt-timeout" in found


def test_the_ejection_cap_stops_at_one_of_three_with_ten_percent():
    setup = Setup("edge", tables("edge"), faults=(Fault("catalog-1", "error"), Fault("catalog-2", "error")))
    [finding] = [f for f in lint(setup) if f.code == "ejection-cap"]
    assert "2 of 3 catalog instances will fail" in finding.message and "eject at most 1" in finding.message
    assert finding.fix.endswith("outlier.max_ejection_percent=67")
    roomy = Policy.from_dict({"outlier": {"max_ejection_percent": 67}})
    assert "ejection-cap" not in {f.code for f in lint(Setup("edge", tables("edge", roomy), faults=setup.faults))}


def test_one_failing_instance_is_within_the_default_cap():
    setup = Setup("edge", tables("edge"), faults=(Fault("catalog-1", "error"),))
    assert "ejection-cap" not in {f.code for f in lint(setup)}


def test_a_breaker_whose_minimum_calls_the_fault_window_never_reaches():
    hystrix = preset("hystrix")  # rate only (consecutive off), 20 calls minimum
    setup = Setup(
        "edge",
        tables("edge", hystrix),
        traffic=Traffic(rate_per_s=2.0),
        faults=(Fault("pricing-1", "error", error_rate=0.5, duration_s=10.0),),
    )
    [finding] = [f for f in lint(setup) if f.code == "breaker-min-calls"]
    # edge topology: every page's pricing call crosses the gateway: 2/s over 2 instances, 10 s → 10 calls
    assert "about 10 calls" in finding.message and "minimum_calls=20" in finding.message
    busy = Setup("edge", tables("edge", hystrix), traffic=Traffic(rate_per_s=20.0), faults=setup.faults)
    assert "breaker-min-calls" not in {f.code for f in lint(busy)}


def test_a_hard_down_instance_trips_the_consecutive_count_whatever_the_traffic():
    setup = Setup("edge", tables("edge"), traffic=Traffic(rate_per_s=0.5), faults=(Fault("pricing-1", "down"),))
    assert "breaker-min-calls" not in {f.code for f in lint(setup)}


def test_latency_under_the_timeout_is_invisible_to_the_breaker():
    setup = Setup("edge", tables("edge"), faults=(Fault("catalog-1", "latency", latency_ms=400),))
    [finding] = [f for f in lint(setup) if f.code == "breaker-blind-to-slow"]
    assert "400 ms" in finding.message and "1000 ms attempt timeout" in finding.message
    assert "breaker.slow_call_s=200ms" in finding.fix


def test_retries_hide_a_failing_instance_from_the_service_breaker():
    setup = Setup("edge", tables("edge"), faults=(Fault("catalog-1", "error"),))
    assert ("retries-hide-errors", "edge", "catalog") in codes(setup)
    no_retry = Policy.from_dict({"retry": {"enabled": False}})
    assert "retries-hide-errors" not in {
        f.code for f in lint(Setup("edge", tables("edge", no_retry), faults=setup.faults))
    }


def test_the_mesh_retrying_below_the_gateway_hides_errors_from_the_edge():
    setup = Setup("edge-mesh", tables("edge-mesh"), faults=(Fault("pricing-1", "reset_peer"),))
    assert ("retries-hide-errors", "path", "pricing") in codes(setup)


def test_tries_multiply_across_hops_without_a_budget():
    unbudgeted = Policy.from_dict({"budget": {"enabled": False}})
    setup = Setup("edge-mesh", tables("edge-mesh", unbudgeted, unbudgeted))
    found = [f for f in lint(setup) if f.code == "tries-multiply"]
    assert len(found) == 4  # storefront × each page part
    assert "up to 9 times" in found[0].message and "edge storefront × mesh catalog" in found[0].message
    # the edge topology multiplies at one proxy: the gateway retries storefront and, on its
    # internal listener, the parts storefront asks for
    assert {f.code for f in lint(Setup("edge", tables("edge", unbudgeted)))} == {"tries-multiply"}
    assert lint(Setup("edge-mesh", tables("edge-mesh", Policy(), unbudgeted))) != []  # one hop without is enough
    assert lint(Setup("edge-mesh", tables("edge-mesh"))) == []


def test_an_attempt_timeout_at_the_request_timeout_leaves_no_retry():
    flat = Policy.from_dict({"timeout": {"attempt_timeout_s": 2.0, "request_timeout_s": 2.0}})
    table = PolicyTable({"orders": flat})
    [finding] = lint(Setup("edge", {"edge": table}))
    assert (finding.code, finding.service) == ("attempt-timeout", "orders")
    assert "timeout.attempt_timeout_s=666ms" in finding.fix


def test_the_mesh_retry_cannot_finish_inside_the_edges_attempt():
    setup = Setup("edge-mesh", tables("edge-mesh"), faults=(Fault("catalog-1", "latency", latency_ms=3000),))
    [finding] = [f for f in lint(setup) if f.code == "attempt-timeout"]
    assert finding.placement == "path" and "the edge times out first" in finding.message


def test_a_latency_equal_to_the_timeout_is_a_coin_toss():
    setup = Setup("edge", tables("edge"), faults=(Fault("catalog-1", "latency", latency_ms=1000),))
    assert ("latency-at-timeout", "edge", "catalog") in codes(setup)
    clear = Setup("edge", tables("edge"), faults=(Fault("catalog-1", "latency", latency_ms=2000),))
    assert "latency-at-timeout" not in {f.code for f in lint(clear)}


def test_istios_retries_do_not_cover_a_reset_or_a_500():
    istio = preset("istio")
    reset = Setup("mesh", tables("mesh", mesh=istio), faults=(Fault("pricing-1", "reset_peer"),))
    assert ("retry-not-covering", "mesh", "pricing") in codes(reset)
    five_hundred = Setup("edge", tables("edge"), faults=(Fault("pricing-1", "error", error_status=500),))
    [finding] = [f for f in lint(five_hundred) if f.code == "retry-not-covering"]
    assert "status 500" in finding.message and "retry_on_statuses=500,502,503,504" in finding.fix


def test_faults_parse_from_the_command_line_form():
    assert parse_fault("catalog-1:latency=1000,jitter=100,for=20") == Fault(
        "catalog-1", "latency", latency_ms=1000, jitter_ms=100, duration_s=20
    )
    assert parse_fault("pricing-1:error=0.5,status=500") == Fault(
        "pricing-1", "error", error_rate=0.5, error_status=500
    )
    for bad, says in [
        ("catalog-1", "looks like"),
        ("catalog-1:melt", "unknown fault kind"),
        ("catalog-1:latency=x", "not a number"),
        ("catalog-1:kill=3", "takes no value"),
        ("catalog-1:latency=5,colour=red", "unknown fault option"),
        ("catalog-1:error=2", r"\(0, 1\]"),
    ]:
        with pytest.raises(LintError, match=says):
            parse_fault(bad)


def test_below_the_panic_threshold_ejection_stops_helping():
    roomy = Policy.from_dict({"outlier": {"max_ejection_percent": 67}})
    setup = Setup("edge", tables("edge", roomy), faults=(Fault("catalog-1", "error"), Fault("catalog-2", "error")))
    [finding] = [f for f in lint(setup) if f.code == "panic-threshold"]
    assert "only 33% stay healthy, below the 50% panic threshold" in finding.message
    off = Policy.from_dict({"outlier": {"max_ejection_percent": 67, "panic_threshold_percent": 0}})
    quiet = Setup("edge", tables("edge", off), faults=setup.faults)
    assert "panic-threshold" not in {f.code for f in lint(quiet)}
