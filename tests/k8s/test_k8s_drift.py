"""The Kubernetes manifests cannot drift from the topology definitions: each committed
file under k8s/ is byte-for-byte what the renderer makes of its definition, and a
definition that gains an instance without a re-render is caught. No cluster needed."""

from __future__ import annotations

from pathlib import Path

import yaml

from gatemesh.k8s import render, render_all
from gatemesh.k8s.__main__ import main as k8s_cli
from gatemesh.k8s.render import drift
from gatemesh.topology import build_topology

K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"


def test_every_committed_manifest_is_its_rendered_definition():
    drifts = drift(render_all(), K8S_DIR)
    assert not drifts, "\n".join(drifts)


def test_check_command_passes_on_the_committed_files(capsys):
    assert k8s_cli(["check", "--dir", str(K8S_DIR)]) == 0
    assert "matches" in capsys.readouterr().out


def test_a_changed_instance_count_is_reported_with_a_diff(tmp_path, capsys):
    for rel, text in render(build_topology("mesh")).items():
        (tmp_path / rel).write_text(text)
    drifts = drift(render(build_topology("mesh", counts={"catalog": 4})), tmp_path)
    assert len(drifts) == 1 and drifts[0].startswith("mesh.yaml: differs from its definition"), drifts
    assert "-  replicas: 3\n+  replicas: 4" in drifts[0], drifts[0]
    # the committed files, checked against a definition they do not match, fail the command
    (tmp_path / "edge.yaml").write_text("# stale\n")
    assert k8s_cli(["check", "--dir", str(tmp_path)]) == 1
    assert "edge.yaml: differs" in capsys.readouterr().err


def test_a_missing_file_is_reported(tmp_path):
    assert drift(render_all(), tmp_path)[0].endswith("missing; run: python -m gatemesh.k8s write")


def test_every_committed_file_parses_as_kubernetes_objects():
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert docs and all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs), path
