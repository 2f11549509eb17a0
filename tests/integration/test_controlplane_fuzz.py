"""The control plane's OpenAPI document (``GET /v1/openapi.json``) fuzzed with
schemathesis against the real process (issue 11): valid and invalid inputs for every
operation; no 5xx, no hang, every answer as documented (status, content type, body
schema), and every refusal a 4xx ``{"error": "<sentence>"}``.

Long-polls are capped at 1 s (``--max-wait-s 1``) so a generated ``wait_s`` cannot stall
the run; the cap itself is what the document says. ``GATEMESH_FUZZ_EXAMPLES`` raises the
examples per operation (default 40) for a longer run.
"""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from test_controlplane import ControlPlaneProcess

from mesh.controlplane import openapi

pytestmark = [pytest.mark.integration, pytest.mark.discovery]

EXAMPLES = int(os.environ.get("GATEMESH_FUZZ_EXAMPLES", "40"))
REQUEST_TIMEOUT_S = 5.0  # a hang fails the case: nothing the API does may take longer


@pytest.fixture(scope="module")
def controlplane(tmp_path_factory):
    state = tmp_path_factory.mktemp("cp-fuzz") / "state.json"
    cp = ControlPlaneProcess("--max-wait-s", "1", "--state-file", str(state))
    requests.put(
        f"{cp.url}/v1/services/catalog/instances/catalog-1",
        json={"address": "127.0.0.1:18001", "ttl_s": 300},
        headers=cp.admin,
        timeout=5,
    )
    yield cp
    cp.close()


# The document the process serves is this function's result (asserted below); loading it
# here lets schemathesis generate the cases at collection time.
schema = schemathesis.openapi.from_dict(openapi.document())


# A policy document is validated by gatemesh.policy, with ranges per field the document does
# not repeat (it says "an object"): a schema-valid policy may still be refused, with a 400
# and a sentence naming the field, which the assertions below check.
SEMANTIC_BODIES = {("PUT", "/v1/policies/{service}"), ("PUT", "/v1/authz")}
# A schema-valid CSR is any string; only a PEM signing request (and, for the admin, a service) is signed.
SEMANTIC_BODIES |= {("POST", "/v1/certificates")}
# A schema-valid address may still be outside the topology's networks (a hostname, 192.0.2.1):
# a 403 naming the rule (address-refused), checked below like the policies' 400.
SEMANTIC_BODIES |= {
    ("PUT", "/v1/services/{service}/instances/{instance}"),
    ("PUT", "/v1/services/{service}/instances/{instance}/heartbeat"),
}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_documented(case, controlplane):
    excluded = [positive_data_acceptance] if (case.method.upper(), case.path) in SEMANTIC_BODIES else []
    # with the admin token, so the cases reach the handlers (test_controlplane_auth: without one, 401)
    response = case.call_and_validate(
        base_url=controlplane.url, timeout=REQUEST_TIMEOUT_S, excluded_checks=excluded, headers=controlplane.admin
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("error"), str) and body["error"].strip(), body


def test_the_document_is_served_and_names_every_route(controlplane):
    doc = requests.get(f"{controlplane.url}/v1/openapi.json", timeout=5).json()
    assert doc == openapi.document() and doc["openapi"].startswith("3.")
    from mesh.controlplane.app import make_app
    from mesh.controlplane.registry import Registry
    from mesh.controlplane.store import Store

    app = make_app(Store(Registry(clock=__import__("time"))))
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented
