"""The compose files' trust, read from the rendered YAML (no Docker needed): what the default
files publish, where the credentials come from and who sees which; and the two programs
the files run for it (``gatemesh.compose.credentials``, ``gatemesh.compose.launch``)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gatemesh.compose import render
from gatemesh.compose.credentials import main as credentials_main
from gatemesh.compose.launch import main as launch_main
from gatemesh.security.credentials import Credentials, load, token_digest
from gatemesh.topology import TOPOLOGIES, build_topology

UIS = {8090, 16686, 9090}  # the dashboard, Jaeger's UI, Prometheus's UI
LOCUST = 8089  # under the load profile only


def _file(name: str) -> dict:
    return yaml.safe_load(render(build_topology(name))[f"{name}.yml"])


def _published(services: dict) -> dict[str, list[str]]:
    return {n: [str(p) for p in s.get("ports", [])] for n, s in services.items() if s.get("ports")}


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_the_default_file_publishes_only_the_entry_and_the_uis_on_loopback(name):
    topology = build_topology(name)
    published = _published(_file(name)["services"])
    ports = {int(p.split(":")[1]) for mappings in published.values() for p in mappings}
    entry = int(topology.endpoints.entry.rsplit(":", 1)[1].split("/")[0])
    assert ports - {LOCUST} == UIS | {entry}, published
    assert all(p.startswith("127.0.0.1:") for mappings in published.values() for p in mappings), published
    # an instance's own ports, the control plane and Toxiproxy's API stay inside
    cp, api = topology.component("controlplane").listen["port"], topology.component("toxiproxy").listen["api"]
    assert cp not in ports and api not in ports
    if topology.endpoints.gateway_admin:  # the gateway's admin API (/-/*) stays inside too
        assert int(topology.endpoints.gateway_admin.rsplit(":", 1)[1]) not in ports
    app = topology.component("catalog-1").listen["port"]
    assert app not in ports
    if name != "edge":
        assert topology.component("sidecar-catalog-1").listen["inbound"] not in ports


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_no_token_is_in_the_file_and_the_control_plane_needs_credentials(name):
    text = render(build_topology(name))[f"{name}.yml"]
    services = yaml.safe_load(text)["services"]
    assert "gm1." not in text and "--open" not in text
    for svc in services.values():
        env = svc.get("environment") or {}
        assert not {"GATEMESH_BOOTSTRAP_TOKEN", "GATEMESH_ADMIN_TOKEN"} & set(env), svc
    cp = services["controlplane"]
    assert "--credentials" in cp["command"]
    assert cp["depends_on"]["credentials"] == {"condition": "service_completed_successfully"}
    assert "build" in services["credentials"]  # the first Python service: compose builds the image for it


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_each_part_mounts_only_its_own_credential_read_only(name):
    services = _file(name)["services"]
    topology = build_topology(name)
    holders = {}
    for svc_name, svc in services.items():
        trust = [v for v in svc.get("volumes", []) if str(v).startswith("trust-")]
        if svc_name in ("credentials", "controlplane"):
            continue
        if trust:
            holders[svc_name] = trust
    for c in topology.components:
        if c.kind in ("sidecar", "gateway", "service"):  # an app: a token (edge) or its app secret
            assert holders.pop(c.name) == [f"trust-{c.name}:/run/gatemesh:ro"]
            handed = services[c.name]["command"][: services[c.name]["command"].index("--")]
            wants = {
                "GATEMESH_BOOTSTRAP_TOKEN": c.kind != "service" or "--register" in c.args,
                "GATEMESH_APP_SECRET": c.kind == "sidecar" or (c.kind == "service" and "--register" not in c.args),
            }
            for var, wanted in wants.items():
                assert any(a.startswith(var + "=") for a in handed) == wanted, (c.name, var, handed)
        elif c.kind == "dashboard":
            assert holders.pop(c.name) == ["trust-admin:/run/gatemesh:ro"]
    if name == "sidecar-gateway":
        assert holders.pop("setup") == ["trust-admin:/run/gatemesh:ro"]
    assert holders == {}  # nothing else holds a credential


def test_the_credentials_service_makes_one_file_per_owner_and_keeps_them(tmp_path, capsys):
    argv = ["--dir", str(tmp_path), "--controlplane", "cp", "--admin", "admin"]
    argv += ["--token", "sidecar-catalog-1=catalog/catalog-1", "--token", "gateway=gateway/gateway"]
    argv += ["--app-secret", "sidecar-catalog-1=catalog/catalog-1", "--app-secret", "catalog-1=catalog/catalog-1"]
    argv += ["--admin-digest", "catalog-1"]
    assert credentials_main(argv) == 0
    creds = load(tmp_path / "cp" / "credentials.json")
    token = (tmp_path / "sidecar-catalog-1" / "token").read_text().strip()
    assert str(creds.identify(token)) == "catalog/catalog-1"
    assert str(creds.identify((tmp_path / "gateway" / "token").read_text().strip())) == "gateway/gateway"
    assert (tmp_path / "admin" / "admin-token").read_text().strip() == creds.admin_token
    secret = creds.app_secret("catalog", "catalog-1")  # the app and its sidecar share it
    assert (tmp_path / "catalog-1" / "app-secret").read_text().strip() == secret
    assert (tmp_path / "sidecar-catalog-1" / "app-secret").read_text().strip() == secret
    assert (tmp_path / "catalog-1" / "admin-token-sha256").read_text().strip() == token_digest(creds.admin_token)
    assert not (tmp_path / "catalog-1" / "token").exists()  # the app behind its sidecar registers nothing
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert credentials_main(argv) == 0  # a second run keeps them
    assert load(tmp_path / "cp" / "credentials.json") == creds
    out = capsys.readouterr().out
    assert creds.admin_token not in out and token not in out and "kept" in out


def test_the_credentials_service_says_what_is_wrong_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        credentials_main(["--dir", str(tmp_path), "--controlplane", "cp", "--token", "catalog-1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "must be OWNER=SERVICE/INSTANCE" in err[0]


def test_launch_puts_the_file_in_the_variable_and_runs_the_command(tmp_path):
    token = Credentials.generate().instance_token("catalog", "catalog-1")
    (tmp_path / "token").write_text(token + "\n")
    code = "import os; print(os.environ['GATEMESH_BOOTSTRAP_TOKEN'])"
    out = subprocess.run(
        [sys.executable, "-m", "gatemesh.compose.launch", f"GATEMESH_BOOTSTRAP_TOKEN={tmp_path / 'token'}", "--"]
        + [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "GATEMESH_BOOTSTRAP_TOKEN": ""},
    )
    assert out.returncode == 0 and out.stdout.strip() == token, out.stderr


@pytest.mark.parametrize(
    "argv, says",
    [
        (["X=/nonexistent/token", "--", "true"], "cannot read /nonexistent/token"),
        (["lower=/x", "--", "true"], "must be NAME=FILE"),
        (["X=/x", "true"], "usage:"),
        (["--"], "no command after --"),
    ],
)
def test_launch_says_what_is_wrong_in_one_line(argv, says, capsys, tmp_path: Path):
    assert launch_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("launch: error: ") and says in err[0], err
