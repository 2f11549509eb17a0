"""What the renderer makes of a definition: one StatefulSet per service whose pods are
the instances, the sidecar a second container of the pod, Toxiproxy's proxies and the
definition in ConfigMaps, and the launcher running in a pod exactly the command line the
process runner runs."""

from __future__ import annotations

import json

import pytest
import yaml

from gatemesh.k8s import K8sOptions
from gatemesh.k8s.definition import definition, rebuild
from gatemesh.k8s.launch import prepare, trust_args
from gatemesh.k8s.render import objects, render_text
from gatemesh.topology import TOPOLOGIES, PortPlan, TopologyError, build_topology


def by_kind(topology, options=None):
    out: dict[tuple[str, str], dict] = {}
    for o in objects(topology, options or K8sOptions()):
        out[(o["kind"], o["metadata"]["name"])] = o
    return out


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_one_statefulset_per_service_with_a_pod_per_instance(name):
    topology = build_topology(name)
    objs = by_kind(topology)
    for service, count in topology.counts.items():
        sts = objs[("StatefulSet", service)]
        assert sts["spec"]["replicas"] == count
        assert sts["spec"]["ordinals"]["start"] == 1  # pods catalog-1 .. catalog-N: the instance ids
        containers = [c["name"] for c in sts["spec"]["template"]["spec"]["containers"]]
        has_sidecar = any(c.kind == "sidecar" for c in topology.components)
        assert containers == (["app", "sidecar"] if has_sidecar else ["app"])
        assert sts["spec"]["template"]["spec"]["hostNetwork"] is True
        assert ("Service", service) in objs  # the StatefulSet's governing Service
    assert ("Deployment", "toxiproxy") in objs and ("Deployment", "controlplane") in objs
    assert (("Deployment", "gateway") in objs) == (topology.endpoints.gateway is not None)
    assert (("Job", "setup") in objs) == (topology.apimgmt is not None)
    assert ("Service", "entry") in objs


def test_toxiproxy_config_is_every_proxy_of_the_definition():
    topology = build_topology("edge-mesh")
    cm = by_kind(topology)[("ConfigMap", "toxiproxy")]
    assert json.loads(cm["data"]["toxiproxy.json"]) == [p.to_api() for p in topology.proxies]


def test_every_container_has_probes_and_requests():
    for o in objects(build_topology("edge-mesh"), K8sOptions()):
        if o["kind"] in ("Deployment", "StatefulSet"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                assert c["readinessProbe"] and c["livenessProbe"], (o["metadata"]["name"], c["name"])
                assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_the_launcher_runs_the_definitions_own_command_for_every_python_component(name, tmp_path, monkeypatch):
    monkeypatch.setattr("gatemesh.k8s.definition.HEALTH_FILE", str(tmp_path / "health"))
    topology = build_topology(name)
    data = json.loads(json.dumps(definition(topology)))  # through the ConfigMap's JSON
    for c in topology.components:
        if c.module is None:
            continue
        argv = prepare(rebuild(data, c.name), c.name, tmp_path)
        assert argv[1:] == c.command(python="python", run_dir=str(tmp_path))[1:] + trust_args(topology, c)
        host, port, path = (tmp_path / "health").read_text().split()
        assert f"http://{host}:{port}{path}" == c.health_url
    if topology.gateway_config is not None:
        assert json.loads((tmp_path / "gateway.json").read_text()) == topology.gateway_config


def test_a_pod_beyond_the_rendered_count_gets_the_port_plan_of_a_scaled_topology(tmp_path, monkeypatch):
    monkeypatch.setattr("gatemesh.k8s.definition.HEALTH_FILE", str(tmp_path / "health"))
    data = definition(build_topology("edge-mesh"))
    scaled = build_topology("edge-mesh", counts={"catalog": 4})
    assert (
        prepare(rebuild(data, "sidecar-catalog-4"), "sidecar-catalog-4", tmp_path)[1:]
        == scaled.component("sidecar-catalog-4").command(run_dir=str(tmp_path))[1:]
    )
    with pytest.raises(TopologyError, match="no component 'payments-1'"):
        prepare(rebuild(data, "payments-1"), "payments-1", tmp_path)


def test_placement_namespace_ports_and_images():
    topology = build_topology("edge-mesh", PortPlan.from_base(20000))
    options = K8sOptions(namespace="alice", app_image="gatemesh/app:dev", toxiproxy_image="gatemesh/toxiproxy:local")
    docs = [d for d in yaml.safe_load_all(render_text(topology, options)) if d]
    assert {d["metadata"].get("namespace", d["metadata"]["name"]) for d in docs} == {"alice"}
    images = {
        c["image"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"gatemesh/app:dev", "gatemesh/toxiproxy:local"}
    entry = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "entry")
    assert entry["spec"]["ports"][0]["port"] == 20080


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("namespace", "Alice_1", "DNS-1123"),
        ("pull_policy", "Sometimes", "pull_policy must be one of"),
        ("app_image", "a b", "without spaces"),
        ("data_root", "var/lib", "absolute path"),
        ("requests", {"service": {}}, "requests lacks the kind"),
    ],
)
def test_options_are_validated_with_a_sentence(field, value, words):
    with pytest.raises(TopologyError, match=words):
        K8sOptions(**{field: value})


def test_a_component_kind_without_a_rendering_is_refused_with_a_sentence():
    # Prometheus (an option of the definition, off by default) has no Kubernetes rendering yet
    with pytest.raises(TopologyError, match="component kind\\(s\\) prometheus with no Kubernetes rendering"):
        objects(build_topology("edge-mesh", prometheus=True), K8sOptions())


def test_an_ingress_to_the_entry_is_an_option():
    topology = build_topology("mesh")
    assert ("Ingress", "entry") not in by_kind(topology)
    ing = by_kind(topology, K8sOptions(ingress_host="shop.example"))[("Ingress", "entry")]
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    entry_port = by_kind(topology)[("Service", "entry")]["spec"]["ports"][0]["port"]
    assert ing["spec"]["rules"][0]["host"] == "shop.example"
    assert backend == {"name": "entry", "port": {"number": entry_port}}
    with pytest.raises(TopologyError, match="must be a DNS name"):
        K8sOptions(ingress_host="Shop Example")
