"""Every topology's committed manifests, server-side applied to a real kube-apiserver
(with etcd and kube-controller-manager) on 127.0.0.1: accepted whole, and reconciled by
the real controllers: each StatefulSet's pods created under the instance names
(``catalog-1`` ..), each Deployment's ReplicaSet and pod, the sidecar-gateway Job's pod,
the Services' EndpointSlices. There is no node here (that is the cluster tier), so the
pods stay Pending: what is checked is what the API server and the controllers do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gatemesh.k8s.render import default_options, manifest_file
from gatemesh.topology import TOPOLOGIES, build_topology

K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"
RECONCILE_S = 60.0

pytestmark = pytest.mark.k8s


def _until(what: str, check, timeout_s: float = RECONCILE_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f}s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def applied(apiserver):
    out = {}
    for name in TOPOLOGIES:
        out[name] = apiserver.apply((K8S_DIR / manifest_file(name)).read_text())
    return out


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_every_object_is_accepted_by_server_side_apply(apiserver, applied, name):
    lines = [line for line in applied[name].splitlines() if line.strip()]
    assert lines and all(line.endswith("serverside-applied") for line in lines), applied[name]
    # applying again changes nothing: the API server's merge of our fields is a fixed point
    again = apiserver.apply((K8S_DIR / manifest_file(name)).read_text())
    assert again.splitlines() == applied[name].splitlines()
    ns = default_options(name).namespace
    sts = apiserver.json("get", "statefulset", "catalog", "--show-managed-fields", namespace=ns)
    managed = sts["metadata"]["managedFields"]
    assert any(m["manager"] == "gatemesh" and m["operation"] == "Apply" for m in managed)


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_the_controllers_create_a_pod_per_instance_named_after_it(apiserver, applied, name):
    topology = build_topology(name)
    ns = default_options(name).namespace
    want = {c.name for c in topology.instances()}
    pods = _until(
        f"{name}: the StatefulSet controller's pods", lambda: want <= set(apiserver.pods(ns)) and apiserver.pods(ns)
    )
    for instance in want:
        owner = pods[instance]["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "StatefulSet" and owner["name"] == instance.rsplit("-", 1)[0]
        containers = [c["name"] for c in pods[instance]["spec"]["containers"]]
        assert containers[0] == "app" and pods[instance]["spec"]["hostNetwork"] is True
    singletons = {
        c.name for c in topology.components if c.kind in ("toxiproxy", "controlplane", "gateway", "dashboard")
    }
    for deployment in singletons:
        pod = _until(
            f"{name}: the Deployment {deployment}'s pod",
            lambda d=deployment: apiserver.pods(ns, f"app.kubernetes.io/name={d}"),
        )
        (only,) = pod.values()
        assert only["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    if topology.apimgmt is not None:
        _until(f"{name}: the setup Job's pod", lambda: apiserver.pods(ns, "batch.kubernetes.io/job-name=setup"))
    slices = _until(
        f"{name}: EndpointSlices for the Services",
        lambda: apiserver.json("get", "endpointslices", namespace=ns)["items"],
    )
    assert {s["metadata"]["labels"]["kubernetes.io/service-name"] for s in slices} >= {"entry", "controlplane"}


def test_a_scaled_statefulset_gets_the_next_instance(apiserver, applied):
    ns = default_options("edge").namespace
    apiserver.run("scale", "statefulset/catalog", "--replicas=4", namespace=ns)
    _until("catalog-4 created", lambda: "catalog-4" in apiserver.pods(ns))
    apiserver.run("scale", "statefulset/catalog", "--replicas=3", namespace=ns)
    _until("catalog-4 removed", lambda: "catalog-4" not in apiserver.pods(ns))


def test_the_optional_ingress_is_accepted_too(apiserver, applied):
    from gatemesh.k8s import K8sOptions
    from gatemesh.k8s.render import render_text

    text = render_text(build_topology("mesh"), K8sOptions(namespace="gatemesh-ingress", ingress_host="shop.example"))
    assert "ingress.networking.k8s.io/entry serverside-applied" in apiserver.apply(text)
    ing = apiserver.json("get", "ingress", "entry", namespace="gatemesh-ingress")
    assert ing["spec"]["rules"][0]["host"] == "shop.example"
