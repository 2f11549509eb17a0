"""Every committed compose file is valid for the compose CLIs on this machine:
``docker-compose`` 1.29 and ``docker compose`` v2, whichever exist (both when both do).
Skipped, saying so, where neither is installed (the compose tier installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gatemesh.compose import project_name
from gatemesh.topology import TOPOLOGIES

ROOT = Path(__file__).resolve().parents[2]


def _clis() -> list[list[str]]:
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        found.append(["docker", "compose"])
    return found


CLIS = _clis()
CLI_PARAMS = [pytest.param(c, id=" ".join(c)) for c in CLIS] or [
    pytest.param(
        None,
        marks=pytest.mark.skip(
            reason="COMPOSE FILES NOT VALIDATED: neither docker-compose nor "
            "`docker compose` is installed (scripts/install-docker.sh)"
        ),
    )
]


@pytest.mark.parametrize("cli", CLI_PARAMS)
@pytest.mark.parametrize("name", list(TOPOLOGIES))
@pytest.mark.parametrize("profile", [None, "load"])
def test_compose_config_accepts_the_file(cli, name, profile):
    args = [*cli, "-p", project_name(name), "-f", f"compose/{name}.yml"]
    if profile:
        args += ["--profile", profile]
    out = subprocess.run([*args, "config"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    if profile == "load":  # (docker-compose 1.29's `config` lists profiled services either way)
        assert ("locust" in services) == (name in ("edge", "edge-mesh"))
    if "TOXIPROXY_IMAGE" not in os.environ:  # the public image by default
        assert services["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.5.0"
