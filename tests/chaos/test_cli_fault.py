"""`gatemesh fault` on a `gatemesh up` run (the supervisor's control API and the real
Toxiproxy): add, list, remove, kill, reset — and the one-line errors a workshop sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.edge]

SCALE = "catalog=2,pricing=1,inventory=1,reviews=1,storefront=1,orders=1"
CLI_TIMEOUT_S = 120


@pytest.fixture
def cli(tmp_path, port_bases):
    base = port_bases.acquire()
    env = {**os.environ, "GATEMESH_HOME": str(tmp_path), "GATEMESH_NAME": "faults"}
    script = Path(sys.executable).parent / "gatemesh"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "gatemesh.cli"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, *args], env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL
        )

    run.base = base  # type: ignore[attr-defined]
    yield run
    run("down")
    port_bases.release(base)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0 and "Traceback" not in result.stderr, result
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess, says: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result
    assert lines[0].startswith("gatemesh: error: ") and says in lines[0], lines[0]


def test_fault_commands_act_on_a_running_topology(cli):
    ok(cli("up", "--topology", "edge", "--detach", "--port-base", str(cli.base), "--scale", SCALE))
    status = json.loads(ok(cli("status", "--json")))
    gateway, key = status["gateway"], {"X-Api-Key": status["api_key"]}

    ok(cli("fault", "add", "catalog-1", "latency", "--ms", "600"))
    ok(cli("fault", "add", "pricing-1", "misbehave", "error_rate=1", "error_status=503"))  # the docs' form
    ok(cli("fault", "add", "reviews-1", "down"))
    listed = {(f["target"], f["kind"]) for f in json.loads(ok(cli("fault", "list", "--json")))}
    assert listed == {("catalog-1", "latency"), ("pricing-1", "misbehave"), ("reviews-1", "down")}

    # the faults are real: catalog-1 is slow (through the gateway), pricing-1 answers 503
    slow = [requests.get(f"{gateway}/api/catalog/1", headers=key, timeout=10) for _ in range(4)]
    t0 = time.monotonic()
    r = requests.get(f"{gateway}/api/pricing/1", headers=key, timeout=10)
    assert any(s.headers.get("X-Instance") == "catalog-1" and s.elapsed.total_seconds() >= 0.6 for s in slow), slow
    assert r.status_code in (200, 503) and time.monotonic() - t0 < 5

    ok(cli("fault", "remove", "catalog-1", "latency"))
    ok(cli("fault", "kill", "catalog-2"))
    listed = {(f["target"], f["kind"]) for f in json.loads(ok(cli("fault", "list", "--json")))}
    assert listed == {("pricing-1", "misbehave"), ("reviews-1", "down"), ("catalog-2", "dead")}

    out = ok(cli("fault", "reset"))
    assert "restarted catalog-2" in out, out
    assert json.loads(ok(cli("fault", "list", "--json"))) == []
    assert requests.get(f"{gateway}/api/reviews/1", headers=key, timeout=10).status_code == 200

    one_line_error(cli("fault", "add", "nope-1", "latency"), "no instance named 'nope-1'; the instances are: catalog-1")
    one_line_error(cli("fault", "kill", "nope"), "no component named 'nope'")
