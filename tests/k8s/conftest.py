"""k8s-tier fixtures. The tests here that need a cluster run only when one is provided,

    GATEMESH_RUNNER=k8s pytest tests/k8s            # scripts/k8s-tier.sh does this

and otherwise skip with the reason (the default ``pytest -n auto tests`` run never starts
an API server): the drift and render tests need nothing and always run.

- ``apiserver``: a control plane of its own (etcd, kube-apiserver, kube-controller-manager
  from scripts/k8s/cluster.sh ``up --control-plane-only``, in a state folder of the
  test's), for server-side apply of every topology: no node, so pods stay Pending, which
  is what lets all four topologies (whose pods share host ports) be applied at once;
- ``cluster``: the tier's running cluster (``KUBECONFIG``, or cluster.sh's default state),
  where ``edge-mesh`` is deployed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "scripts" / "k8s" / "cluster.sh"


def k8s_enabled() -> bool:
    return os.environ.get("GATEMESH_RUNNER") == "k8s"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if k8s_enabled():
        return
    skip = pytest.mark.skip(reason="needs a Kubernetes built here: run scripts/k8s-tier.sh (GATEMESH_RUNNER=k8s)")
    here = Path(__file__).parent
    for item in items:
        if here not in item.path.parents:  # this hook sees the whole session's items
            continue
        if {"apiserver", "cluster", "k8s_chaos"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from gatemesh.k8s.cluster import Kubectl, find_kubectl

    if os.environ.get("GATEMESH_K8S_CLUSTER_UP") == "1":
        pytest.fail(
            "the acceptance test needs the API server's ports: run it before the tier's cluster is up", pytrace=False
        )
    state = tmp_path_factory.mktemp("apiserver")
    env = {**os.environ, "GATEMESH_K8S_STATE": str(state)}
    up = subprocess.run(
        ["bash", str(CLUSTER_SH), "up", "--control-plane-only"], env=env, capture_output=True, text=True
    )
    try:
        if up.returncode != 0:
            pytest.fail(f"the control plane did not come up:\n{up.stdout}\n{up.stderr}", pytrace=False)
        print(up.stdout)
        yield Kubectl(find_kubectl(), str(state / "admin.kubeconfig"))
    finally:
        subprocess.run(["bash", str(CLUSTER_SH), "down"], env=env, capture_output=True, text=True)


@pytest.fixture(scope="session")
def cluster() -> object:
    from gatemesh.k8s.cluster import ClusterError, Kubectl

    try:
        return Kubectl.from_env()
    except ClusterError as e:
        pytest.fail(str(e), pytrace=False)


NAMESPACE = os.environ.get("GATEMESH_K8S_NAMESPACE", "gatemesh-edge-mesh")


def make_k8s_chaos(backend: object) -> object:
    """The chaos suite's ``chaoslib.Chaos`` whose faults, restarts and scaling go to pods."""
    from gatemesh.faults import Faults

    import chaoslib  # tests/chaos is on pytest's pythonpath (pyproject.toml)

    class OpenControlPlane:
        """The pods' control plane runs ``--open`` (no credential handoff to pods yet,
        gatemesh/k8s/launch.py): policy writes carry no token."""

        admin_token = None

    class K8sRunner:
        """What ``Chaos`` asks of a runner, answered by the k8s backend."""

        credentials = OpenControlPlane()

        @property
        def topology(self):
            return backend.topology

        def restart(self, name: str):
            return backend.restart(name)

        def scale(self, service: str, n: int):
            return backend.scale(service, n)

    class K8sChaos(chaoslib.Chaos):
        def __init__(self) -> None:
            super().__init__(K8sRunner())
            self.faults = Faults(backend)
            self.backend = backend

    return K8sChaos()


@pytest.fixture(scope="session")
def k8s_chaos(cluster: object) -> Iterator[object]:
    from gatemesh.faults import FaultError
    from gatemesh.k8s.backend import K8sBackend

    try:
        backend = K8sBackend.for_namespace(NAMESPACE)
    except FaultError as e:
        pytest.fail(f"no edge-mesh in {NAMESPACE} to run against: {e}", pytrace=False)
    chaos = make_k8s_chaos(backend)
    chaos.reset()
    yield chaos
    chaos.reset()


@pytest.fixture
def chaos(k8s_chaos: object) -> Iterator[object]:
    """The chaos suite's ``chaos`` fixture, on pods: reset before and after."""
    k8s_chaos.reset()
    yield k8s_chaos
    k8s_chaos.reset()
