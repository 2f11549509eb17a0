"""Building blocks of gatemesh's OpenAPI documents: the control plane's
(``mesh/controlplane/openapi.py``) and the proxies' admin API (``gatemesh/admin_openapi.py``),
so both say a JSON answer, a refusal, ``/metrics`` and the document's own path the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OBJECT: dict[str, Any] = {"type": "object"}


def json_answer(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    """A response whose body is JSON of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": dict(schema)}}}


def refusals(schema: Mapping[str, Any], words: Mapping[int, str], *statuses: int) -> dict[str, Any]:
    """The refusals an operation can answer, each a JSON body of ``schema`` described by ``words``."""
    return {str(s): json_answer(schema, words[s]) for s in statuses}


def metrics_path() -> dict[str, Any]:
    """``GET /metrics``: the Prometheus text exposition every part serves."""
    return {
        "get": {
            "operationId": "metrics",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }


def document_path() -> dict[str, Any]:
    """``GET <prefix>/openapi.json``: the document itself."""
    return {"get": {"operationId": "openapi", "responses": {"200": json_answer(OBJECT, "This document.")}}}
