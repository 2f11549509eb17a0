"""The renderer's pieces: who listens where, the tests' override, the one-shot seed."""

from __future__ import annotations

import json

import pytest
import yaml

from gatemesh.compose import publish_override, render
from gatemesh.compose.addresses import Netns
from gatemesh.compose.seed import main as seed_main
from gatemesh.topology import TopologyError, build_topology


def test_addresses_stay_loopback_inside_a_pod_and_become_service_names_across():
    topology = build_topology("edge-mesh")
    netns = Netns.of(topology)
    port = topology.component("catalog-1").listen["port"]
    app = f"127.0.0.1:{port}"
    assert netns.dial(app, "catalog-1") == app  # its sidecar, in the same pod
    assert netns.dial(app, "gateway") == f"catalog-1:{port}"  # anyone else
    assert netns.rewrite("http://127.0.0.1:8500/v1", "catalog-1") == "http://controlplane:8500/v1"
    assert netns.rewrite("--advertise 127.0.0.1:18001", "catalog-1") == "--advertise toxiproxy:18001"
    assert netns.listen("127.0.0.1:8080") == "0.0.0.0:8080"


def test_an_address_nobody_listens_on_is_refused():
    netns = Netns.of(build_topology("edge"))
    with pytest.raises(TopologyError, match="no component of the topology listens on port 9"):
        netns.dial("127.0.0.1:9", "gateway")


def test_toxiproxy_config_lists_every_proxy_towards_its_pod():
    topology = build_topology("edge-mesh")
    proxies = json.loads(render(topology)["config/edge-mesh/toxiproxy.json"])
    assert [p["name"] for p in proxies] == [p.name for p in topology.proxies]
    for p in proxies:
        assert p["listen"].startswith("0.0.0.0:") and p["upstream"].startswith(p["name"] + ":")


def test_the_gateway_listens_on_every_interface_and_finds_the_control_plane_by_name():
    config = json.loads(render(build_topology("edge"))["config/edge/gateway.json"])
    assert (config["listen"], config["internal_listen"]) == ("0.0.0.0:8080", "0.0.0.0:8081")
    assert config["admin_listen"] == "0.0.0.0:9901"  # the dashboard's way in; published by the tests' override only
    assert config["control_plane"] == "http://controlplane:8500"


def test_the_test_override_publishes_every_app_and_sidecar_port_on_loopback():
    topology = build_topology("edge-mesh")
    services = yaml.safe_load(publish_override(topology))["services"]
    for c in topology.components:
        if c.kind in ("service", "sidecar"):
            ports = services[c.instance]["ports"]
            for port in c.listen.values():
                assert f"127.0.0.1:{port}:{port}" in ports
    assert services["controlplane"]["ports"] == ["127.0.0.1:8500:8500"]
    assert services["toxiproxy"]["ports"] == ["127.0.0.1:8474:8474"]
    assert "gateway" not in services or "127.0.0.1:8080:8080" not in services["gateway"]["ports"]  # the file has it


def test_sidecar_gateway_seeds_api_management_before_the_sidecars_start():
    data = yaml.safe_load(render(build_topology("sidecar-gateway"))["sidecar-gateway.yml"])
    setup = data["services"]["setup"]
    seed = setup["command"][setup["command"].index("--") + 1 :]
    assert seed[:5] == ["python", "-m", "gatemesh.compose.seed", "PUT", "http://controlplane:8500/v1/apimgmt"]
    assert json.loads(seed[5])["keys"]
    assert setup["command"][:4] == [
        "python",
        "-m",
        "gatemesh.compose.launch",
        "GATEMESH_ADMIN_TOKEN=/run/gatemesh/admin-token",
    ]
    deps = data["services"]["sidecar-storefront-1"]["depends_on"]
    assert deps["setup"] == {"condition": "service_completed_successfully"}


def test_seed_says_what_is_wrong_in_one_line(capsys):
    assert seed_main(["PUT", "http://127.0.0.1:9/x"]) == 2
    assert seed_main(["PUT", "http://127.0.0.1:9/x", "{not json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("seed: error: ") for line in err)
