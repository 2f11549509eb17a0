"""Change resilience policies of a running topology, at the edge or in the mesh, and
wait until they are in force.

    edge  the gateway's own calls: PUT <gateway>/-/policies/<service>
    mesh  the sidecars' calls: PUT <control plane>/v1/policies/<service>, pushed to every
          sidecar by its long-poll; `set` returns once every sidecar reports it

The CLI (`gatemesh policy`), the chaos suite and the experiments all go through here,
so "switch the breaker off in the mesh" means one thing everywhere.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from .policy import Policy, PolicyTable
from .runner.webclient import HttpError, json_request

LOCATIONS = ("edge", "mesh")


class PolicyClientError(Exception):
    pass


class PolicyClient:
    def __init__(self, gateway: str | None, controlplane: str, sidecars: Iterable[str] = ()):
        self.gateway = gateway.rstrip("/") if gateway else None
        self.controlplane = controlplane.rstrip("/")
        self.sidecars = [s.rstrip("/") for s in sidecars]

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> "PolicyClient":
        """From `ProcessRunner.status()` / `gatemesh status --json`."""
        sidecars = []
        for inst in status.get("instances", []):
            if inst.get("kind") == "sidecar" and inst.get("alive", True) and inst.get("health"):
                sidecars.append(inst["health"].rsplit("/health", 1)[0])
        return cls(status.get("gateway"), status["controlplane"], sidecars)

    def locations(self, at: str) -> list[str]:
        if at == "both":
            wanted = ["edge", "mesh"]
        elif at in LOCATIONS:
            wanted = [at]
        else:
            raise PolicyClientError(f"--at must be edge, mesh or both, got {at!r}")
        if "edge" in wanted and self.gateway is None:
            if at == "edge":
                raise PolicyClientError("this topology has no gateway, so there is no edge location; use --at mesh")
            wanted.remove("edge")
        if "mesh" in wanted and not self.sidecars:
            if at == "mesh":
                raise PolicyClientError("this topology has no sidecars, so there is no mesh location; use --at edge")
            wanted.remove("mesh")
        return wanted

    # --- reading ---------------------------------------------------------------------
    def table(self, at: str) -> PolicyTable:
        if at == "edge":
            return PolicyTable.from_dict(self._get(f"{self.gateway}/-/policies"))
        return PolicyTable.from_dict(self._get(f"{self.controlplane}/v1/policies").get("policies", {}))

    def show(self, at: str = "both") -> dict[str, dict]:
        return {loc: self.table(loc).to_dict() for loc in self.locations(at)}

    # --- writing ---------------------------------------------------------------------
    def set(self, service: str, at: str, overrides: Mapping[str, Any] | None = None,
            settings: Iterable[str] = (), wait_s: float = 10.0) -> dict[str, Policy]:
        """Apply a partial policy and/or `pattern.field=value` settings; returns what is in force."""
        out = {}
        for loc in self.locations(at):
            policy = self.table(loc).get(service).merged(overrides or {}).with_settings(*settings)
            out[loc] = self._put(loc, service, policy, wait_s)
        return out

    def replace(self, service: str, at: str, policy: Policy, wait_s: float = 10.0) -> dict[str, Policy]:
        """Put a whole policy in force (a preset, or `all_off()` for a control arm)."""
        return {loc: self._put(loc, service, policy, wait_s) for loc in self.locations(at)}

    def reset(self, service: str, at: str, wait_s: float = 10.0) -> None:
        """Forget a service's own policy (it falls back to '*'); '*' goes back to the defaults."""
        for loc in self.locations(at):
            base = self.gateway if loc == "edge" else self.controlplane
            path = "/-/policies/" if loc == "edge" else "/v1/policies/"
            json_request("DELETE", f"{base}{path}{service}", ok=(200, 204, 404))
            if loc == "mesh":
                self._wait_mesh(service, self.table("mesh").get(service), wait_s)

    def _put(self, loc: str, service: str, policy: Policy, wait_s: float) -> Policy:
        if loc == "edge":
            self._call("PUT", f"{self.gateway}/-/policies/{service}", policy.to_dict())
            return policy
        self._call("PUT", f"{self.controlplane}/v1/policies/{service}", policy.to_dict())
        self._wait_mesh(service, policy, wait_s)
        return policy

    def _wait_mesh(self, service: str, policy: Policy, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        pending = list(self.sidecars)
        while pending and time.monotonic() < deadline:
            still = []
            for sidecar in pending:
                try:
                    if PolicyTable.from_dict(self._get(f"{sidecar}/-/policies")).get(service) != policy:
                        still.append(sidecar)
                except (OSError, PolicyClientError):
                    pass  # a sidecar that is down (a chaos test killed it) cannot confirm; skip it
            pending = still
            if pending:
                time.sleep(0.05)
        if pending:
            raise PolicyClientError(f"{len(pending)} sidecar(s) did not apply the {service} policy within {wait_s:.0f} s: "
                                    + ", ".join(pending))

    # --- plumbing --------------------------------------------------------------------
    def _get(self, url: str) -> Any:
        return self._call("GET", url)

    @staticmethod
    def _call(method: str, url: str, body: Any = None) -> Any:
        try:
            return json_request(method, url, body, timeout_s=5.0)
        except HttpError as exc:
            try:
                import json
                message = json.loads(exc.body).get("error", exc.body)
            except ValueError:
                message = exc.body
            raise PolicyClientError(f"{url} refused the policy: {message}") from None
        except OSError as exc:
            raise PolicyClientError(f"cannot reach {url}: {exc}") from None
