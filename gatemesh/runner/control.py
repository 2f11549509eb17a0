"""Client of a supervisor's control API (the CLI uses it to act on a running topology).

The API, served on a loopback port written to ``state.json`` (``control_url``), every
call carrying the ``X-Gatemesh-Token`` from the same file:

====================================  ====================================================
``GET  /status``                      the runner's status plus the supervisor's
``POST /stop``                        stop everything, then the supervisor exits
``POST /components/{name}/{action}``  ``kill`` (body ``{"signal": "SIGKILL"}``), ``pause``,
                                      ``resume``, ``restart``
``POST /scale``                       ``{"service": "catalog", "count": 5}``
====================================  ====================================================
Errors answer ``{"error": "<sentence>"}`` with a 4xx status.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import RunnerError
from .webclient import request

TOKEN_HEADER = "X-Gatemesh-Token"


class Control:
    def __init__(self, control_url: str, token: str) -> None:
        self.url = control_url.rstrip("/")
        self.token = token

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Control:
        if not state.get("control_url"):
            raise RunnerError("the supervisor has not published its control address yet; try again")
        return cls(state["control_url"], state.get("token", ""))

    def call(self, method: str, path: str, body: Any = None, timeout_s: float = 10.0) -> Any:
        try:
            status, raw = request(method, self.url + path, body, timeout_s, {TOKEN_HEADER: self.token})
        except OSError as e:
            raise RunnerError(f"the supervisor at {self.url} does not answer ({e})") from e
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            data = {"error": raw.decode(errors="replace")[:200]}
        if status >= 400:
            raise RunnerError(data.get("error") or f"the supervisor answered HTTP {status}")
        return data

    def status(self) -> dict[str, Any]:
        return self.call("GET", "/status", timeout_s=5.0)

    def stop(self) -> None:
        self.call("POST", "/stop", {}, timeout_s=5.0)

    def component(self, name: str, action: str, signal: str | None = None, timeout_s: float = 60.0) -> dict:
        body = {"signal": signal} if signal else {}
        return self.call("POST", f"/components/{name}/{action}", body, timeout_s=timeout_s)

    def scale(self, service: str, count: int, timeout_s: float = 120.0) -> dict:
        return self.call("POST", "/scale", {"service": service, "count": count}, timeout_s=timeout_s)
