"""Change resilience policies of a running topology, at the edge or in the mesh, and
wait until they are in force.

    edge  the gateway's own calls: PUT <gateway admin>/-/policies/<service> (its admin listener)
    mesh  the sidecars' calls: PUT <control plane>/v1/policies/<service>, pushed to every
          sidecar by its long-poll; `set` returns once every sidecar reports it

The CLI (`gatemesh policy`), the chaos suite and the experiments all go through here —
it is the only writer of policies, snapshot and restore included — so "switch the
breaker off in the mesh" means one thing everywhere, and "the sidecars have it" is
checked one way (`wait_mesh`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from .policy import DEFAULT_SERVICE, Policy, PolicyTable
from .runner.webclient import HttpError, json_request
from .security.credentials import admin_token, bearer

LOCATIONS = ("edge", "mesh")
PUSH_TIMEOUT_S = 10.0  # the sidecars learn a mesh policy within ~1 s (a long-poll push); this is the bound
POLL_S = 0.05
ADMIN_TIMEOUT_S = 5.0


class PolicyClientError(Exception):
    pass


class PolicyClient:
    def __init__(
        self,
        gateway: str | None,
        controlplane: str,
        sidecars: Iterable[str] = (),
        wait_s: float = PUSH_TIMEOUT_S,
        token: str | None = None,
    ):
        self.token = token  # the run's admin token: the control plane refuses a write without it (401)
        self.gateway = gateway.rstrip("/") if gateway else None
        self.controlplane = controlplane.rstrip("/")
        self.sidecars = [s.rstrip("/") for s in sidecars]  # the admin URLs whose policies `wait_mesh` checks
        self.wait_s = wait_s

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> PolicyClient:
        """From `ProcessRunner.status()` / `gatemesh status --json`."""
        sidecars = []
        for inst in status.get("instances", []):
            if inst.get("kind") == "sidecar" and inst.get("alive", True) and inst.get("health"):
                sidecars.append(inst["health"].rsplit("/health", 1)[0])
        # the gateway's policies are on its admin listener (issue 15), not its public one
        gateway = status.get("gateway_admin") or status.get("gateway")
        return cls(gateway, status["controlplane"], sidecars, token=admin_token(status.get("run_dir")))

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
    def set(
        self,
        service: str,
        at: str,
        overrides: Mapping[str, Any] | None = None,
        settings: Iterable[str] = (),
        wait_s: float | None = None,
    ) -> dict[str, Policy]:
        """Apply a partial policy and/or `pattern.field=value` settings; returns what is in force."""
        out = {}
        for loc in self.locations(at):
            policy = self.table(loc).get(service).merged(overrides or {}).with_settings(*settings)
            out[loc] = self.put(loc, {service: policy}, wait_s)[service]
        return out

    def replace(self, service: str, at: str, policy: Policy, wait_s: float | None = None) -> dict[str, Policy]:
        """Put a whole policy in force (a preset, or `all_off()` for a control arm)."""
        return {loc: self.put(loc, {service: policy}, wait_s)[service] for loc in self.locations(at)}

    def put(self, loc: str, policies: Mapping[str, Policy], wait_s: float | None = None) -> Mapping[str, Policy]:
        """Whole policies per service (`"*"`: the default) at one location; in the mesh,
        returns once every sidecar applies them (`wait_s=0`: do not wait)."""
        base = self._base(loc)
        for service, policy in policies.items():
            self._call("PUT", f"{base}/{service}", policy.to_dict())
        if loc == "mesh" and wait_s != 0:
            self.wait_mesh(policies, wait_s=wait_s)
        return policies

    def reset(self, service: str, at: str, wait_s: float | None = None) -> None:
        """Forget a service's own policy (it falls back to '*'); '*' goes back to the defaults."""
        for loc in self.locations(at):
            url = f"{self._base(loc)}/{service}"
            headers = bearer(self.token) if loc == "mesh" else {}
            json_request("DELETE", url, ok=(200, 204, 404), headers=headers)
            if loc == "mesh":
                self.wait_mesh({service: self.table("mesh").get(service)}, wait_s=wait_s)

    def reset_to(self, policy: Policy, at: str = "both", wait_s: float | None = None) -> None:
        """Every service at `at` under this one policy (the chaos suite's baseline): the
        gateway's entries rewritten, the mesh's own entries deleted and "*" set."""
        body = policy.to_dict()
        for loc in self.locations(at):
            if loc == "edge":
                for service, doc in self._get(f"{self.gateway}/-/policies").items():
                    if doc != body:
                        self._call("PUT", f"{self.gateway}/-/policies/{service}", body)
                continue
            mesh = self._get(f"{self.controlplane}/v1/policies").get("policies", {})
            for service in mesh:
                if service != DEFAULT_SERVICE:
                    self._call("DELETE", f"{self.controlplane}/v1/policies/{service}")
            if mesh.get(DEFAULT_SERVICE) != body:
                self._call("PUT", f"{self.controlplane}/v1/policies/{DEFAULT_SERVICE}", body)
            self.wait_mesh({DEFAULT_SERVICE: policy}, exact=True, wait_s=wait_s)

    # --- snapshot and restore --------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        """What is in force now: {"edge": {service: doc}, "mesh": {service: doc}}."""
        out: dict[str, dict] = {"mesh": self._get(f"{self.controlplane}/v1/policies").get("policies", {})}
        if self.gateway is not None:
            out["edge"] = self._get(f"{self.gateway}/-/policies")
        return out

    def restore(self, saved: Mapping[str, Mapping[str, Any]], services: Iterable[str] = ()) -> None:
        """Put back what `snapshot` saw. The gateway cannot forget a service's own policy:
        `services` it did not have get its default ("*") again, which behaves the same."""
        edge = saved.get("edge", {})
        if self.gateway is not None:
            for service in dict.fromkeys([DEFAULT_SERVICE, *services, *edge]):
                doc = edge.get(service, edge.get(DEFAULT_SERVICE))
                if doc is not None:
                    self._call("PUT", f"{self.gateway}/-/policies/{service}", doc)
        mesh = saved.get("mesh", {})
        for service in self._get(f"{self.controlplane}/v1/policies").get("policies", {}):
            if service not in mesh:
                self._call("DELETE", f"{self.controlplane}/v1/policies/{service}")
        for service, doc in mesh.items():
            self._call("PUT", f"{self.controlplane}/v1/policies/{service}", doc)

    # --- the one wait ----------------------------------------------------------------
    def wait_mesh(
        self,
        policies: Mapping[str, Policy],
        sidecars: Iterable[str] | None = None,
        exact: bool = False,
        wait_s: float | None = None,
    ) -> float:
        """Until every sidecar (or those given) applies `policies`, a sidecar that is down
        skipped (a chaos test killed it); `exact`: its whole table is just these. Returns
        the seconds waited; PolicyClientError naming the late sidecars after `wait_s`."""
        limit = self.wait_s if wait_s is None else wait_s
        want = PolicyTable.from_dict({s: p.to_dict() for s, p in policies.items()})
        t0 = time.monotonic()
        pending = [s.rstrip("/") for s in (self.sidecars if sidecars is None else sidecars)]
        while pending:
            still = []
            for sidecar in pending:
                try:
                    have = PolicyTable.from_dict(self._get(f"{sidecar}/-/policies"))
                except (OSError, PolicyClientError):
                    continue
                if (have != want) if exact else any(have.get(s) != p for s, p in policies.items()):
                    still.append(sidecar)
            pending = still
            if pending and time.monotonic() - t0 > limit:
                raise PolicyClientError(
                    f"{len(pending)} sidecar(s) did not apply the mesh policy for "
                    f"{', '.join(policies)} within {limit:g} s: {', '.join(pending)}"
                )
            if pending:
                time.sleep(POLL_S)
        return time.monotonic() - t0

    # --- plumbing --------------------------------------------------------------------
    def _base(self, loc: str) -> str:
        if loc == "edge":
            if self.gateway is None:
                raise PolicyClientError("this topology has no gateway, so there is no edge location")
            return f"{self.gateway}/-/policies"
        if loc == "mesh":
            return f"{self.controlplane}/v1/policies"
        raise PolicyClientError(f"the location must be edge or mesh, got {loc!r}")

    def _get(self, url: str) -> Any:
        return self._call("GET", url)

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        headers = bearer(self.token) if url.startswith(self.controlplane + "/") else {}
        try:
            return json_request(method, url, body, timeout_s=ADMIN_TIMEOUT_S, headers=headers)
        except HttpError as exc:
            try:
                message = json.loads(exc.body).get("error", exc.body)
            except ValueError:
                message = exc.body
            raise PolicyClientError(f"{url} refused the policy: {message}") from None
        except OSError as exc:
            raise PolicyClientError(f"cannot reach {url}: {exc}") from None
