"""A proxy's admin API (``admin.py``, the same on the gateway and the sidecars) as an
OpenAPI 3.1 document, served at ``GET /-/openapi.json`` and fuzzed with schemathesis
(``tests/integration/test_admin_fuzz.py``).

Refusals carry the proxy's reason: a JSON body with ``reason`` and ``error`` (see
``refusal.py``) and the ``X-Gatemesh-Reason`` header; 405s name the methods that work.
"""

from __future__ import annotations

from typing import Any

from gatemesh.openapi import OBJECT, document_path, json_answer, metrics_path, refusals

_OBJECT = OBJECT
_REFUSAL: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "minLength": 1}},
}


_json = json_answer
_WORDS = {
    400: "Bad input: the sentence says what to fix.",
    404: "No such admin endpoint (or not on this listener).",
    405: "Not this method here (the sentence says which).",
}


def _refused(*statuses: int) -> dict[str, Any]:
    return refusals(_REFUSAL, _WORDS, *statuses)


_SERVICE = {
    "name": "service",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": "A service name, or * for the default of every service.",
}
_POLICY = _json(
    {
        "type": "object",
        "required": ["service", "policy"],
        "properties": {"service": {"type": "string"}, "policy": _OBJECT},
    },
    "The policy in force.",
)
_WRITE = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": _OBJECT}}},
    "parameters": [_SERVICE],
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gatemesh proxy admin API",
            "version": "1",
            "description": "A gateway's or a sidecar's own endpoints: metrics, events, upstream state, "
            "policies, reset. Served on the proxy's admin listener only (the gateway's admin_listen, a "
            "sidecar's app-local outbound port); its public or Toxiproxy-facing listener answers /-/* 404 "
            "no-route. See docs/contracts.md.",
        },
        "paths": {
            "/metrics": metrics_path(),
            "/-/openapi.json": document_path(),
            "/-/events": {
                "get": {
                    "operationId": "events",
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer"},
                            "description": "Only events after this sequence number.",
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["proxy", "last_seq", "events"],
                                "properties": {
                                    "proxy": {"type": "string"},
                                    "last_seq": {"type": "integer"},
                                    "events": {"type": "array", "items": _OBJECT},
                                },
                            },
                            "The event timeline.",
                        ),
                        **_refused(400),
                    },
                }
            },
            "/-/upstreams": {
                "get": {
                    "operationId": "upstreams",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["proxy", "upstreams"],
                                "properties": {
                                    "proxy": {"type": "string"},
                                    "upstreams": {
                                        "type": "object",
                                        "additionalProperties": {
                                            "type": "object",
                                            "required": ["endpoints", "breaker", "ejected", "panic"],
                                        },
                                    },
                                },
                            },
                            "Endpoints, breakers, ejections, panic, budgets, in-flight per upstream.",
                        )
                    },
                }
            },
            "/-/policies": {
                "get": {"operationId": "policies", "responses": {"200": _json(_OBJECT, "The policy table.")}}
            },
            "/-/policies/{service}": {
                "get": {"operationId": "getPolicy", "parameters": [_SERVICE], "responses": {"200": _POLICY}},
                "put": {"operationId": "putPolicy", **_WRITE, "responses": {"200": _POLICY, **_refused(400, 405)}},
                "patch": {"operationId": "patchPolicy", **_WRITE, "responses": {"200": _POLICY, **_refused(400, 405)}},
                "delete": {
                    "operationId": "deletePolicy",
                    "parameters": [_SERVICE],
                    "responses": {"200": _POLICY, **_refused(405)},
                },
            },
            "/-/reset": {
                "post": {
                    "operationId": "reset",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["proxy", "reset"],
                                "properties": {
                                    "proxy": {"type": "string"},
                                    "reset": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                            "Breakers, ejections, budgets and fallback answers forgotten.",
                        ),
                        **_refused(405),
                    },
                }
            },
        },
    }
