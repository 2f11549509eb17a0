"""Observability over a real topology (processes, real Toxiproxy, Debian's real
Prometheus): Prometheus scrapes every proxy with every target up, the breaker state has a
series for every upstream and instance before anything trips, and `gatemesh logs
--trace ID` prints one call's access log lines from every proxy it crossed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gatemesh.runner import ProcessRunner
from gatemesh.runner.prometheus import PrometheusApi, find_prometheus
from gatemesh.topology.prometheus import targets

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMALL = {"catalog": 2, "pricing": 1, "inventory": 1, "reviews": 1, "storefront": 1, "orders": 1}
KEY = {"X-Api-Key": "demo-key"}
WAIT_S = 20.0  # discovery, a first scrape (2 s interval) and an access-log flush (1 s) fit well within
RUN = "obs-test"


@pytest.fixture(scope="module")
def edge_mesh(topology_factory_module) -> ProcessRunner:
    find_prometheus()  # scripts/setup.sh installs it: a missing one is a failure, not a skip
    # with Jaeger: the proxies trace (their lines carry their own span ids) and the apps
    # propagate the trace context, so one call's lines span the whole mesh
    return topology_factory_module("edge-mesh", counts=SMALL, prometheus=True, jaeger=True)


def eventually(check, timeout_s: float = WAIT_S):
    """check() until it returns something truthy without raising AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = check()
            if got:
                return got
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout_s}s: {check.__doc__ or check}")
        time.sleep(0.25)


def gatemesh(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GATEMESH_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "gatemesh.cli", *args], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.fixture(scope="module")
def home(edge_mesh: ProcessRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GATEMESH_HOME whose run `obs-test` is the running topology's directory."""
    root = tmp_path_factory.mktemp("home")
    (root / ".gatemesh" / "run").mkdir(parents=True)
    (root / ".gatemesh" / "run" / RUN).symlink_to(edge_mesh.run_dir)
    return root


def test_prometheus_scrapes_every_proxy_and_every_target_is_up(edge_mesh: ProcessRunner) -> None:
    api = PrometheusApi(str(edge_mesh.topology.endpoints.prometheus))
    want = {name for name, _, _ in targets(edge_mesh.topology.components)}
    assert "gateway" in want and "controlplane" in want and "sidecar-catalog-2" in want
    found = api.wait_all_up(len(want), WAIT_S)
    assert {t["labels"]["instance"] for t in found} == want
    assert {t["health"] for t in found} == {"up"}
    assert {t["scrapeUrl"].split("//")[1].split(":")[0] for t in found} == {"127.0.0.1"}


def test_breaker_state_has_a_series_for_every_upstream_and_instance_before_any_trip(edge_mesh: ProcessRunner) -> None:
    api = PrometheusApi(str(edge_mesh.topology.endpoints.prometheus))
    proxies = ["gateway", "sidecar:storefront-1"]

    def catalog_series() -> dict[tuple[str, str], str]:
        """every proxy has a closed breaker series for catalog, catalog-1 and catalog-2"""
        got = {
            (r["metric"]["proxy"], r["metric"]["instance"]): r["value"][1]
            for r in api.query('gatemesh_breaker_state{upstream="catalog"}')
        }
        for proxy in proxies:
            for instance in ("*", "catalog-1", "catalog-2"):
                assert got.get((proxy, instance)) == "0", (proxy, instance, got)
        return got

    eventually(catalog_series)
    assert api.query("gatemesh_breaker_transitions_total") == []  # nothing has tripped: only the zeros
    assert api.query("gatemesh_breaker_state > 0") == []


def test_logs_trace_prints_one_call_from_every_proxy_it_crossed(edge_mesh: ProcessRunner, home: Path) -> None:
    gw = edge_mesh.topology.endpoints.gateway
    trace_id = secrets.token_hex(16)
    headers = {**KEY, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    for _ in range(2):  # a control call without the header, before and after
        assert requests.get(f"{gw}/api/catalog/2", headers=KEY, timeout=5).status_code == 200
    resp = eventually(lambda: (r := requests.get(f"{gw}/api/catalog/1", headers=headers, timeout=5)).ok and r)
    instance = resp.headers["X-Instance"]

    def lines() -> list[dict]:
        """both hops' lines are flushed"""
        out = gatemesh(home, "logs", "--name", RUN, "--trace", trace_id, "--json")
        assert out.returncode == 0, out.stderr
        got = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(got) >= 2, got
        return got

    got = eventually(lines)
    assert [g["proxy"] for g in got] == ["gateway", f"sidecar:{instance}"]  # in time order: the edge first
    assert {g["trace_id"] for g in got} == {trace_id}
    assert len({g["span_id"] for g in got}) == 2 and all(len(g["span_id"]) == 16 for g in got)  # each hop's own span
    assert all(g["service"] == "catalog" and g["status"] == 200 and g["upstream"] == instance for g in got)
    assert got[0]["path"] == "/api/catalog/1" and got[1]["path"] == "/products/1"
    assert got[0]["time"] <= got[1]["time"] and got[0]["duration_us"] >= got[1]["duration_us"]

    everything = gatemesh(home, "logs", "--name", RUN, "--service", "catalog", "--json")
    assert everything.returncode == 0
    assert len(everything.stdout.splitlines()) >= 3 * 2  # the control calls are there too, once per hop


def test_logs_trace_follows_a_composed_call_through_the_mesh(edge_mesh: ProcessRunner, home: Path) -> None:
    """The storefront's page: the gateway, the storefront's sidecar (inbound, then outbound
    for each part the app asks for: the app propagates the trace) and each part's sidecar."""
    gw = edge_mesh.topology.endpoints.gateway
    trace_id = secrets.token_hex(16)
    headers = {**KEY, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    page = eventually(lambda: (r := requests.get(f"{gw}/api/storefront/1", headers=headers, timeout=5)).ok and r)
    assert page.json()["degraded"] == []

    def crossed() -> list[dict]:
        """every hop has logged its line: each proxy flushes on its own 1 s timer, so the
        parts' sidecars may be on disk before the gateway, which finishes last"""
        out = gatemesh(home, "logs", "--name", RUN, "--trace", trace_id, "--json")
        assert out.returncode == 0, out.stderr
        got = [json.loads(line) for line in out.stdout.splitlines()]
        services = {g["service"] for g in got if g["proxy"] != "sidecar:storefront-1" and g["proxy"] != "gateway"}
        assert services >= {"catalog", "pricing", "inventory", "reviews"}, got
        assert {"gateway", "sidecar:storefront-1"} <= {g["proxy"] for g in got}, got
        return got

    got = eventually(crossed)
    assert got[0]["proxy"] == "gateway" and got[0]["path"] == "/api/storefront/1"
    storefront = [g for g in got if g["proxy"] == "sidecar:storefront-1"]
    # inbound (to its app) once, outbound once per part the app called
    assert {g["service"] for g in storefront} >= {"storefront", "catalog", "pricing", "inventory", "reviews"}
    assert {g["trace_id"] for g in got} == {trace_id} and all(g["status"] == 200 for g in got)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--trace", "not-a-trace-id"], "--trace wants a W3C trace id of 32 hex digits"),
        (["--trace", "0" * 32], "not all zero"),
        (["--service", "nosuch"], "unknown service 'nosuch'; the services are: catalog"),
        (["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_logs_bad_input_is_one_line(home: Path, args: list[str], message: str) -> None:
    out = gatemesh(home, "logs", "--name", RUN, *args)
    assert out.returncode != 0
    assert out.stderr.startswith("gatemesh: error: ") and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_logs_of_a_run_that_never_ran_is_one_line(home: Path) -> None:
    out = gatemesh(home, "logs", "--name", "never-ran")
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"gatemesh: error: no run named 'never-ran' has logs here; start one with: {_gatemesh()} up --name never-ran"
    )


def _gatemesh() -> str:
    from gatemesh.cli._show import command_name

    return command_name()
