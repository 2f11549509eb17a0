"""JSON in and out: the reply helper, the one error type, and request parsing.

Every answer a service gives is JSON carrying ``"instance"``; every failure is
``{"error": "<a sentence>", "instance": ...}`` (plus any extra fields), never HTML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB; larger bodies get 413
_INTEGER = re.compile(r"-?[0-9]{1,18}")  # stricter than int(): no "+", "_", spaces


@dataclass(frozen=True)
class ServiceInfo:
    service: str
    instance: str


INFO = web.AppKey("services.kit.info", ServiceInfo)


class ServiceError(Exception):
    """Raise from a handler to answer ``status`` with ``{"error": message, **extra}``."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = extra


def reply(
    request: web.Request,
    body: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A JSON response with this instance's name added to the body."""
    payload = {**body, "instance": request.app[INFO].instance}
    return web.json_response(payload, status=status, headers=headers)


def error_response(
    request: web.Request,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    return reply(request, {"error": message, **extra}, status=status, headers=headers)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; 400 with a sentence when it is not (413 when too big)."""
    raw = await request.read()  # raises HTTPRequestEntityTooLarge over client_max_size
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServiceError(400, f"the request body is not valid JSON: {exc}") from None


def path_int(request: web.Request, name: str = "id", what: str = "product id") -> int:
    """An integer from the path; 400 with a sentence when it is not one."""
    text = request.match_info[name]
    if not _INTEGER.fullmatch(text):
        raise ServiceError(400, f"{what} must be an integer, got {text!r}")
    return int(text)
