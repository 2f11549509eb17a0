"""A proxy's admin API (``GET /-/openapi.json``) fuzzed with schemathesis against a real
gateway process (issue 11): no 5xx, no hang, every answer as documented, every refusal a
4xx with a sentence. The gateway runs alone beside a real control plane (no upstreams are
needed: the admin API answers from memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from test_controlplane import ROOT, ControlPlaneProcess, free_port

from gatemesh import admin_openapi

pytestmark = [pytest.mark.integration]

EXAMPLES = int(os.environ.get("GATEMESH_FUZZ_EXAMPLES", "40"))
REQUEST_TIMEOUT_S = 5.0
# A policy is validated by gatemesh.policy with per-field ranges the document does not
# repeat: a schema-valid one may be refused (400 with a sentence, checked below).
SEMANTIC_BODIES = {("PUT", "/-/policies/{service}"), ("PATCH", "/-/policies/{service}")}


@pytest.fixture(scope="module")
def gateway():
    cp = ControlPlaneProcess()
    port, admin_port = free_port(), free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(
            {
                "listen": f"127.0.0.1:{port}",
                "admin_listen": f"127.0.0.1:{admin_port}",  # the admin API's own listener (issue 15)
                "control_plane": cp.url,
                "proxy_name": "gateway",
                "routes": [],
                "policies": {"*": {}},
            },
            f,
        )
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", f.name], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
    )
    url = f"http://127.0.0.1:{admin_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, "the gateway exited"
            try:
                if requests.get(f"{url}/-/policies", timeout=0.5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the gateway did not answer"
            time.sleep(0.05)
        yield url
    finally:
        proc.kill()
        proc.wait(5)
        cp.close()
        os.unlink(f.name)


schema = schemathesis.openapi.from_dict(admin_openapi.document())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_admin_operation_answers_as_documented(case, gateway):
    excluded = [positive_data_acceptance] if (case.method.upper(), case.path) in SEMANTIC_BODIES else []
    response = case.call_and_validate(base_url=gateway, timeout=REQUEST_TIMEOUT_S, excluded_checks=excluded)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and body["error"].strip(), body


def test_the_admin_document_is_served(gateway):
    assert requests.get(f"{gateway}/-/openapi.json", timeout=5).json() == admin_openapi.document()
