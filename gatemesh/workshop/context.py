"""What a lab acts through: the running topology's own clients, never a private path.

`LabContext` wraps, for one `gatemesh up --name NAME` run, the supervisor's control API
(scale, status), the fault API (`gatemesh.faults`), the policy client
(`gatemesh.policy_client`) and a small bounded HTTP load against the entry — the same
things the CLI, the chaos suite and the dashboard use, so a lab shows what they show.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from typing import Any

import requests

from gatemesh.faults import Faults
from gatemesh.policy_client import PolicyClient
from gatemesh.runner.control import Control
from gatemesh.runner.errors import RunnerError
from gatemesh.runner.state import read_state, run_dir

CALL_TIMEOUT_S = 10.0  # one lab call; well above the 5 s request timeout, so a hang shows as slow, not lost
MAX_CALLS = 2000  # every lab load is bounded in count ...
MAX_LOAD_S = 60.0  # ... and in time


class LabError(Exception):
    """A lab cannot run here; the message is a sentence saying what to do."""


@dataclass(frozen=True)
class Call:
    status: int  # 0: no answer (connection error or our own timeout)
    elapsed_s: float
    instance: str  # X-Instance of the answer ("" for a proxy's own answer)
    reason: str  # X-Gatemesh-Reason ("" when none)
    body: Any = None  # the JSON body, when there is one


class LabContext:
    def __init__(self, name: str = "default") -> None:
        state = read_state(run_dir(name))
        if state is None or state.get("status") != "running":
            hint = "" if name == "default" else f" --name {name}"
            raise LabError(f"no topology named {name!r} is running; start one with: .venv/bin/gatemesh up{hint}")
        self.name = name
        try:
            self.control = Control.from_state(state)
            self.status = self.control.status()
        except RunnerError as exc:
            raise LabError(str(exc)) from None
        self.topology: str = self.status["topology"]
        self.entry: str = self.status.get("gateway") or self.status["entry"]
        self.api_key: str = self.status.get("api_key") or ""
        self.faults = Faults.for_run(name)
        self.policies = PolicyClient.from_status(self.status)
        self._http = requests.Session()

    def refresh(self) -> None:
        self.status = self.control.status()
        self.policies = PolicyClient.from_status(self.status)

    def proxies(self) -> list[str]:
        """Base URLs of every live proxy's admin API (the gateway, then the sidecars)."""
        out = [self.status.get("gateway_admin") or self.status["gateway"]] if self.status.get("gateway") else []
        out += [
            i["health"].rsplit("/health", 1)[0]
            for i in self.status.get("instances", [])
            if i.get("kind") == "sidecar" and i.get("alive", True) and i.get("health")
        ]
        return out

    # --- traffic -----------------------------------------------------------------------
    def call(
        self, path: str, method: str = "GET", json_body: Any = None, headers: dict[str, str] | None = None
    ) -> Call:
        h = {"X-Api-Key": self.api_key, **(headers or {})} if self.api_key else dict(headers or {})
        t0 = time.monotonic()
        try:
            r = self._http.request(method, self.entry + path, json=json_body, headers=h, timeout=CALL_TIMEOUT_S)
        except requests.RequestException:
            return Call(0, time.monotonic() - t0, "", "no-answer")
        try:
            body = r.json()
        except ValueError:
            body = None
        return Call(
            r.status_code,
            time.monotonic() - t0,
            r.headers.get("x-instance", ""),
            r.headers.get("x-gatemesh-reason", ""),
            body,
        )

    def load(self, path: str, n: int, concurrency: int = 4) -> list[Call]:
        """``n`` GETs of ``path`` with ``concurrency`` in flight; bounded by MAX_CALLS and MAX_LOAD_S."""
        n = min(n, MAX_CALLS)
        stop_at = time.monotonic() + MAX_LOAD_S
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            futures = [pool.submit(self._bounded_call, path, stop_at) for _ in range(n)]
            return [c for c in (f.result() for f in futures) if c is not None]

    def _bounded_call(self, path: str, stop_at: float) -> Call | None:
        return self.call(path) if time.monotonic() < stop_at else None

    def calls(self, instance: str) -> int:
        """Requests ``instance``'s app has received so far (counted at the instance)."""
        return self.faults.calls(instance)

    def instance_calls(self, *instances: str) -> dict[str, int]:
        return {i: self.calls(i) for i in instances}

    def close(self) -> None:
        self._http.close()
