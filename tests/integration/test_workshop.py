"""Every lab's check fails before the attendee's step and passes after it, on a real
edge-mesh started with `gatemesh up`, with the step replayed exactly as `gatemesh lab
hint` prints it. And `gatemesh reset` brings a broken demo back: faults gone, killed
and paused instances alive, breakers closed, nothing ejected."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gatemesh.workshop import LABS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TIMEOUT_S = 120


def gatemesh_command() -> list[str]:
    script = Path(sys.executable).parent / "gatemesh"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gatemesh.cli"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, port_bases):
    home = tmp_path_factory.mktemp("workshop")
    env = {**os.environ, "GATEMESH_HOME": str(home), "GATEMESH_NAME": "workshop"}
    base = port_bases.acquire()

    def gm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*gatemesh_command(), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )

    up = gm("up", "--detach", "--port-base", str(base))
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield gm
    finally:
        gm("down")
        port_bases.release(base)


@pytest.mark.timeout(420)  # ten labs, each a reset, two checks and its step: ~60-120 s
def test_every_lab_fails_before_its_step_and_passes_after(demo):
    problems, lines = [], []
    for lab in LABS:
        start = demo("lab", "start", str(lab.number))
        assert start.returncode == 0, start.stdout + start.stderr
        before = demo("lab", "check")
        hint = demo("lab", "hint").stdout
        steps = [line.strip().split("gatemesh ", 1)[1] for line in hint.splitlines() if ".venv/bin/gatemesh " in line]
        assert steps == [s.split("gatemesh ", 1)[1] for s in lab.step], hint
        for step in steps:
            done = demo(*shlex.split(step))
            assert done.returncode == 0, f"lab {lab.number} step {step!r}: {done.stdout}{done.stderr}"
        after = demo("lab", "check")
        lines += [before.stdout.strip(), after.stdout.strip()]
        if before.returncode != 1 or "FAIL" not in before.stdout:
            problems.append(f"lab {lab.number} passed before its step: {before.stdout}{before.stderr}")
        if after.returncode != 0 or "PASS" not in after.stdout:
            problems.append(f"lab {lab.number} failed after its step: {after.stdout}{after.stderr}")
    print("\n".join(lines))
    assert not problems, "\n".join(problems)


def test_reset_brings_a_broken_demo_back(demo):
    gm = demo
    for args in (
        ("fault", "kill", "catalog-3"),
        ("fault", "pause", "pricing-2"),
        ("fault", "misbehave", "catalog-1", "--error-rate", "1", "--error-status", "503"),
        ("policy", "set", "catalog", "--at", "both", "retry.enabled=false"),
    ):
        assert gm(*args).returncode == 0, args
    status = json.loads(gm("status", "--json").stdout)
    key = {"X-Api-Key": status["api_key"]}
    for _ in range(30):  # trip catalog-1's breaker and ejection at the edge
        requests.get(f"{status['gateway']}/api/catalog/1", headers=key, timeout=10)
    broken = gm("status").stdout
    for says in (
        "catalog-3: not running",
        "pricing-2: paused",
        "catalog-1: misbehave error_rate=1 error_status=503",
        "policy catalog at the edge: retry.enabled=False",
        "gateway: catalog",
    ):  # its breaker or ejection
        assert says in broken, broken
    t0 = time.monotonic()
    reset = gm("reset")
    took = time.monotonic() - t0
    assert reset.returncode == 0, reset.stdout + reset.stderr
    status = json.loads(gm("status", "--json").stdout)
    assert all(i["alive"] and not i.get("paused") for i in status["instances"]), status["instances"]
    assert json.loads(gm("fault", "list", "--json").stdout) == []
    ups = requests.get(f"{status['gateway_admin']}/-/upstreams", timeout=5).json()["upstreams"]
    assert all(
        u["breaker"] == "closed" and not u["ejected"] and set(u["instance_breakers"].values()) <= {"closed"}
        for u in ups.values()
    ), ups
    assert "broken now: nothing" in gm("status").stdout
    print(f"gatemesh reset took {took:.2f} s (CLI start-up included): {reset.stdout.strip()}")
