"""The control plane's API as an OpenAPI 3.0 document, served at ``GET /v1/openapi.json``.

Written by hand next to the handlers (``api.py``) and checked against them by fuzzing
(``tests/integration/test_controlplane_fuzz.py``, schemathesis): every operation, every
status it can answer, every body. Refusals are always ``{"error": "<sentence>"}``: 400
for input the client must fix, 401 for a write without a known bearer token, 403 for one
its credential or the address rules do not allow, 404 for an unknown service, instance, policy or path,
405 for a method a path does not have, 503 while warming up after a restart.
"""

from __future__ import annotations

from typing import Any

from gatemesh.openapi import OBJECT, document_path, json_answer, metrics_path, refusals
from mesh.controlplane.registry import (
    HOST_PATTERN,
    ID_PATTERN,
    MAX_META_CHARS,
    MAX_META_ENTRIES,
    MAX_TTL_S,
    PORT_PATTERN,
)

VERSION = "1"

_ERROR = {"$ref": "#/components/schemas/Error"}
_ID = {"type": "string", "pattern": f"^{ID_PATTERN.pattern}$"}
_POLICY_ID = {"type": "string", "pattern": f"^(\\*|{ID_PATTERN.pattern})$"}


_json = json_answer
_WORDS = {
    400: "Bad input: the sentence says what to fix.",
    401: "No credential, or one this control plane did not issue (reason unauthenticated).",
    403: "Not allowed: an instance writing another (not-authorized), or an address the rules refuse "
    "(address-refused, with the rule).",
    404: "Not found.",
    503: "Warming up after a restart: keep your last snapshot and retry.",
}


def _refusals(*statuses: int) -> dict[str, Any]:
    return refusals(_ERROR, _WORDS, *statuses)


def _path_param(name: str, what: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": what, "schema": schema or {"type": "string"}}


def _query(name: str, what: str, integer: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": what,
        "schema": {"type": "integer" if integer else "number", "minimum": 0},
    }


# Reading or deleting takes any string (an unknown one is a 404); registering and setting a
# policy take only a valid id (anything else is a 400).
_SERVICE = _path_param("service", "A service id (lowercase letters, digits, '.', '_', '-').")
_INSTANCE = _path_param("instance", "An instance id, e.g. catalog-1.")
_NEW_SERVICE = _path_param("service", "A service id: 1-63 of lowercase letters, digits, '.', '_', '-'.", _ID)
_NEW_INSTANCE = _path_param("instance", "An instance id: 1-63 of lowercase letters, digits, '.', '_', '-'.", _ID)
_POLICY_SERVICE = _path_param("service", "A service id, or * for the default of every service.")
_NEW_POLICY_SERVICE = _path_param("service", "A service id, or * for the default of every service.", _POLICY_ID)
_INSTANCE_VIEW = {
    "type": "object",
    "required": ["id", "address", "meta"],
    "properties": {
        "id": {"type": "string"},
        "address": {"type": "string"},
        "meta": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_SERVICES = {"type": "object", "additionalProperties": {"type": "array", "items": _INSTANCE_VIEW}}
_OBJECT = OBJECT


def document() -> dict[str, Any]:
    """The document, every write marked as needing a bearer token (401/403 documented)."""
    doc = _document()
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The admin token (the run directory's admin-token, 0600), or an instance's "
            "bootstrap token, which may write only that instance's registration (docs/security.md).",
        }
    }
    doc["components"]["schemas"]["Error"]["properties"]["reason"] = {"type": "string"}
    doc["components"]["schemas"]["Error"]["properties"]["rule"] = {"type": "string"}
    for ops in doc["paths"].values():
        for method, op in ops.items():
            if method in ("put", "delete", "post"):
                op["security"] = [{"bearer": []}]
                op["responses"].update(_refusals(401, 403))
    # the reads that show API keys (mesh/controlplane/auth.py): the admin's, or redacted without a credential
    doc["paths"]["/v1/apimgmt"]["get"]["security"] = [{"bearer": []}]
    doc["paths"]["/v1/apimgmt"]["get"]["responses"].update(_refusals(401, 403))
    snapshot = doc["paths"]["/v1/snapshot"]["get"]
    snapshot["security"] = [{}, {"bearer": []}]  # optional: without one, apimgmt is {"redacted": ...}
    snapshot["responses"].update(_refusals(401))
    return doc


def _document() -> dict[str, Any]:
    instance = "/v1/services/{service}/instances/{instance}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gatemesh control plane",
            "version": VERSION,
            "description": "Registry (TTL heartbeats, blocking snapshot watches), mesh policies and API "
            "management. See docs/contracts.md.",
        },
        "paths": {
            "/health": {
                "get": {
                    "operationId": "health",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status", "index"],
                                "properties": {
                                    "status": {"type": "string", "enum": ["ok"]},
                                    "component": {"type": "string"},
                                    "index": {"type": "integer"},
                                    "services": {"type": "integer"},
                                },
                            },
                            "Up.",
                        )
                    },
                }
            },
            "/metrics": metrics_path(),
            "/v1/openapi.json": document_path(),
            "/v1/services": {
                "get": {
                    "operationId": "listServices",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["index", "services"],
                                "properties": {"index": {"type": "integer"}, "services": _SERVICES},
                            },
                            "Every service and its instances.",
                        )
                    },
                }
            },
            "/v1/services/{service}": {
                "get": {
                    "operationId": "getService",
                    "parameters": [_SERVICE],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["index", "service", "instances"],
                                "properties": {
                                    "index": {"type": "integer"},
                                    "service": {"type": "string"},
                                    "instances": {"type": "array", "items": _INSTANCE_VIEW},
                                },
                            },
                            "The service's instances.",
                        ),
                        **_refusals(404),
                    },
                }
            },
            instance: {
                "put": {
                    "operationId": "register",
                    "parameters": [_NEW_SERVICE, _NEW_INSTANCE],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Registration"}}},
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["service", "instance", "created"],
                                "properties": {"created": {"type": "boolean"}, "index": {"type": "integer"}},
                            },
                            "Registered (or re-registered) and its TTL renewed.",
                        ),
                        **_refusals(400),
                    },
                },
                "delete": {
                    "operationId": "deregister",
                    "parameters": [_SERVICE, _INSTANCE],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["deregistered"],
                                "properties": {"deregistered": {"type": "boolean"}},
                            },
                            "Deregistered.",
                        ),
                        **_refusals(404),
                    },
                },
            },
            instance + "/heartbeat": {
                "put": {
                    "operationId": "heartbeat",
                    "parameters": [_SERVICE, _INSTANCE],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Heartbeat"}}},
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["expires_in_s"],
                                "properties": {"expires_in_s": {"type": "number"}},
                            },
                            "TTL renewed.",
                        ),
                        **_refusals(400, 404),
                    },
                }
            },
            "/v1/snapshot": {
                "get": {
                    "operationId": "snapshot",
                    "parameters": [
                        _query("index", "Return at once unless the current index equals this one (0: at once).", True),
                        _query("wait_s", "Longest wait for a change, seconds (default 10, capped at 60).", False),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["index", "services", "policies", "apimgmt"],
                                "properties": {
                                    "index": {"type": "integer"},
                                    "services": _SERVICES,
                                    "policies": _OBJECT,
                                    "apimgmt": _OBJECT,
                                    "authz": _OBJECT,
                                },
                            },
                            "The whole state: services, policies, API management, authorization.",
                        ),
                        **_refusals(400, 503),
                    },
                }
            },
            "/v1/policies": {
                "get": {
                    "operationId": "listPolicies",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["index", "policies"],
                                "properties": {"index": {"type": "integer"}, "policies": _OBJECT},
                            },
                            "Every mesh policy set.",
                        )
                    },
                }
            },
            "/v1/policies/{service}": {
                "get": {
                    "operationId": "getPolicy",
                    "parameters": [_POLICY_SERVICE],
                    "responses": {"200": _json(_OBJECT, "The policy as it was set."), **_refusals(404)},
                },
                "put": {
                    "operationId": "putPolicy",
                    "parameters": [_NEW_POLICY_SERVICE],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _OBJECT}}},
                    "responses": {"200": _json(_OBJECT, "Set (validated by gatemesh.policy)."), **_refusals(400)},
                },
                "delete": {
                    "operationId": "deletePolicy",
                    "parameters": [_POLICY_SERVICE],
                    "responses": {"200": _json(_OBJECT, "Deleted: the defaults apply."), **_refusals(404)},
                },
            },
            "/v1/apimgmt": {
                "get": {"operationId": "getApiMgmt", "responses": {"200": _json(_OBJECT, "API management config.")}},
                "put": {
                    "operationId": "putApiMgmt",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiMgmt"}}},
                    },
                    "responses": {"200": _json(_OBJECT, "Set, normalized."), **_refusals(400)},
                },
            },
            "/v1/authz": {
                "get": {
                    "operationId": "getAuthz",
                    "responses": {"200": _json(_OBJECT, "Which identity may call which service.")},
                },
                "put": {
                    "operationId": "putAuthz",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _OBJECT}}},
                    "responses": {
                        "200": _json(_OBJECT, "Set, normalized (gatemesh.security.authz)."),
                        **_refusals(400),
                    },
                },
            },
            "/v1/jwks": {
                "get": {
                    "operationId": "jwks",
                    "responses": {
                        "200": _json(
                            {"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array"}}},
                            "The public keys bearer JWTs are signed with (RFC 7517), by kid.",
                        )
                    },
                }
            },
            "/v1/tokens": {
                "post": {
                    "operationId": "mintToken",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}},
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["token", "expires_in_s"],
                                "properties": {"token": {"type": "string"}, "expires_in_s": {"type": "integer"}},
                            },
                            "A signed JWT for sub (the admin's demo identity provider).",
                        ),
                        **_refusals(400),
                    },
                }
            },
            "/v1/certificates": {
                "post": {
                    "operationId": "issueCertificate",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["csr"],
                                    "additionalProperties": False,
                                    "properties": {"csr": {"type": "string"}, "service": _ID},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["certificate", "bundle", "lifetime_s"],
                                "properties": {
                                    "certificate": {"type": "string"},
                                    "bundle": {"type": "string"},
                                    "lifetime_s": {"type": "number"},
                                },
                            },
                            "A leaf for the service the bearer token proves (SPIFFE URI SAN), and the trust bundle.",
                        ),
                        **_refusals(400),
                    },
                }
            },
            "/v1/trust-bundle": {
                "get": {
                    "operationId": "trustBundle",
                    "responses": {"200": _json(_OBJECT, "Every root still trusted, PEM, newest last.")},
                }
            },
            "/v1/ca/rotate": {
                "post": {
                    "operationId": "rotateRoot",
                    "responses": {"200": _json(_OBJECT, "A new root signs; the old stays in the bundle.")},
                }
            },
            "/v1/ca/retire": {
                "post": {
                    "operationId": "retireRoots",
                    "responses": {"200": _json(_OBJECT, "Only the signing root is left in the bundle.")},
                }
            },
            "/v1/events": {
                "get": {
                    "operationId": "events",
                    "parameters": [_query("since", "Only events after this sequence number.", True)],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["seq", "events"],
                                "properties": {
                                    "seq": {"type": "integer"},
                                    "events": {"type": "array", "items": _OBJECT},
                                },
                            },
                            "The event log.",
                        ),
                        **_refusals(400),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string", "minLength": 1}},
                },
                "Registration": {
                    "type": "object",
                    "required": ["address"],
                    "additionalProperties": False,
                    "properties": {
                        "address": {
                            "type": "string",
                            "pattern": f"^{HOST_PATTERN}:{PORT_PATTERN}$",
                            "description": "host:port other parts dial (its Toxiproxy proxy)",
                        },
                        "ttl_s": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TTL_S},
                        "meta": {
                            "type": "object",
                            "maxProperties": MAX_META_ENTRIES,
                            "propertyNames": {"maxLength": MAX_META_CHARS},
                            "additionalProperties": {"type": "string", "maxLength": MAX_META_CHARS},
                        },
                    },
                },
                "TokenRequest": {
                    "type": "object",
                    "required": ["sub"],
                    "additionalProperties": False,
                    "properties": {
                        "sub": {"type": "string", "minLength": 1},
                        "audience": {"type": "string", "minLength": 1},
                        "ttl_s": {"type": "integer", "minimum": 1, "maximum": 86400},
                        "alg": {"type": "string", "enum": ["ES256", "RS256"]},
                    },
                },
                "Heartbeat": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "address": {
                            "type": "string",
                            "pattern": f"^{HOST_PATTERN}:{PORT_PATTERN}$",
                            "description": "where the instance listens: corrects a registration that says otherwise",
                        }
                    },
                },
                "ApiMgmt": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "keys": {
                            "type": "object",
                            "propertyNames": {"minLength": 1},
                            "additionalProperties": {
                                "type": "object",
                                "required": ["routes"],
                                "additionalProperties": False,
                                "properties": {
                                    "routes": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"type": "string", "minLength": 1},
                                    }
                                },
                            },
                        },
                        "rate_limit": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "enabled": {"type": "boolean"},
                                "rate_per_s": {"type": "number", "exclusiveMinimum": 0},
                                "burst": {"type": "integer", "minimum": 1},
                            },
                        },
                    },
                },
            }
        },
    }
