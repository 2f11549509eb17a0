"""Tiny blocking HTTP helpers (stdlib only) for health checks and admin APIs."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body


def request(
    method: str,
    url: str,
    body: Any = None,
    timeout_s: float = 2.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request on a fresh connection; raises OSError when nothing answers."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout_s)
    try:
        payload = None
        hdrs = dict(headers or {})
        if body is not None:
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request(method, path, body=payload, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except http.client.HTTPException as e:
        raise OSError(f"bad HTTP answer from {url}: {e}") from e
    finally:
        conn.close()


def json_request(
    method: str,
    url: str,
    body: Any = None,
    timeout_s: float = 2.0,
    headers: dict[str, str] | None = None,
    ok: tuple[int, ...] = (200, 201, 202, 204),
) -> Any:
    status, raw = request(method, url, body, timeout_s, headers)
    if status not in ok:
        raise HttpError(status, raw.decode(errors="replace"))
    return json.loads(raw) if raw.strip() else None


def is_healthy(url: str, timeout_s: float = 1.0) -> bool:
    try:
        status, _ = request("GET", url, timeout_s=timeout_s)
    except OSError:
        return False
    return status == 200
