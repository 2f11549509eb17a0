"""The compose files cannot drift from the topology definitions: each committed file is
byte-for-byte what the renderer makes of its definition, and a definition that gains a
service without a re-render is caught, naming the service. No Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gatemesh.compose import render, render_all
from gatemesh.compose.__main__ import main as compose_cli
from gatemesh.compose.check import compare
from gatemesh.topology import TOPOLOGIES, build_topology

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"


def test_every_committed_compose_file_is_its_rendered_definition():
    drifts = compare(render_all(), COMPOSE_DIR)
    assert not drifts, "\n".join(str(d) for d in drifts)


def test_check_command_passes_on_the_committed_files(capsys):
    assert compose_cli(["check", "--dir", str(COMPOSE_DIR)]) == 0
    assert "matches" in capsys.readouterr().out


def test_a_service_added_to_the_definition_but_not_rendered_is_reported(monkeypatch, capsys):
    # A seventh service, "payments", added to the definition (services, counts, routes):
    # the committed compose/edge-mesh.yml, rendered before it existed, must fail the check.
    import gatemesh.topology.apis as apis
    import gatemesh.topology.build as build
    import gatemesh.topology.counts as counts

    services = (*counts.SERVICES, "payments")
    monkeypatch.setattr(counts, "SERVICES", services)
    monkeypatch.setattr(build, "SERVICES", services)
    monkeypatch.setattr(apis, "SERVICES", services)
    monkeypatch.setitem(apis.SERVICE_PATHS, "payments", "/payments")
    monkeypatch.setattr(counts, "DEFAULT_COUNTS", {**counts.DEFAULT_COUNTS, "payments": 1})

    drifts = compare(render(build_topology("edge-mesh")), COMPOSE_DIR)

    by_path = {d.path: d for d in drifts}
    assert set(by_path) == {
        "edge-mesh.yml",
        "edge-mesh.test.yml",  # the new pod's ports, for the tests
        "config/edge-mesh/toxiproxy.json",
        "config/edge-mesh/gateway.json",
        "config/edge-mesh/parts.json",  # the dashboard's list of what runs
        "config/edge-mesh/prometheus.yml",  # one more sidecar to scrape
    }
    summary = by_path["edge-mesh.yml"].summary
    assert "lacks service(s) the definition has: payments-1, sidecar-payments-1" in summary, summary
    assert by_path["edge-mesh.yml"].diff.startswith("--- committed edge-mesh.yml")
    # and the command line says so, with exit status 1
    assert compose_cli(["check", "--dir", str(COMPOSE_DIR)]) == 1
    err = capsys.readouterr().err
    print(err)  # the demonstration: run with -s to see it
    assert "drift: edge-mesh.yml: lacks service(s) the definition has: payments-1, sidecar-payments-1" in err


def test_a_changed_instance_count_is_reported_too(tmp_path):
    for rel, text in render(build_topology("mesh")).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    drifts = compare(render(build_topology("mesh", counts={"catalog": 4})), tmp_path)
    assert any("lacks service(s) the definition has: catalog-4, sidecar-catalog-4" in d.summary for d in drifts)


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_every_component_is_a_service_and_sidecars_share_their_apps_namespace(name):
    topology = build_topology(name)
    data = yaml.safe_load(render(topology)[f"{name}.yml"])
    services = data["services"]
    assert {c.name for c in topology.components} <= set(services)
    for c in topology.components:
        if c.kind == "sidecar":
            assert services[c.name]["network_mode"] == f"service:{c.instance}"
            assert "ports" not in services[c.name]
    for svc in services.values():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), port  # published on loopback only
    assert sum("build" in s for s in services.values()) == 1  # one image, built once


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_no_loopback_address_crosses_a_container(name):
    """Inside a container 127.0.0.1 is that container (or its pod): an address another
    container owns must be a service name."""
    topology = build_topology(name)
    data = yaml.safe_load(render(topology)[f"{name}.yml"])
    app_ports = {c.instance: set() for c in topology.instances()}
    for c in topology.components:
        if c.instance:
            app_ports[c.instance] |= set(c.listen.values())
    for svc_name, svc in data["services"].items():
        pod = svc.get("network_mode", "service:" + svc_name).split(":", 1)[1]
        for arg in svc.get("command") or []:
            if "127.0.0.1:" in str(arg):
                port = int(str(arg).rsplit(":", 1)[1].split("/")[0])
                assert port in app_ports.get(pod, set()), f"{svc_name}: {arg} leaves its pod"
