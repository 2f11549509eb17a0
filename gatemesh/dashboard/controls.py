"""What the page's buttons do, through the same APIs the CLI uses: ``gatemesh.faults``
(Toxiproxy, the apps' misbehave knob, the supervisor's process control),
``gatemesh.policy_client`` (edge and mesh policies, presets) and the supervisor's
``/scale``. Each action is one blocking call (run in a thread by the server) that
returns a sentence, or raises ``ControlError`` with the API's one-line message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gatemesh.faults import FaultError, Faults
from gatemesh.faults.backends import Member, SupervisorBackend
from gatemesh.policy import PATTERN_NAMES, PolicyError
from gatemesh.policy_client import PolicyClient, PolicyClientError
from gatemesh.presets import PRESETS, UnknownPreset, preset
from gatemesh.runner.control import Control
from gatemesh.runner.errors import RunnerError
from gatemesh.runner.state import SPEC_FILE, read_json
from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.security.credentials import admin_token
from gatemesh.topology import TopologyError
from gatemesh.workshop.context import LabError

from .parts import Parts

NETWORK = ("latency", "timeout", "reset_peer", "bandwidth", "slicer", "limit_data", "slow_close", "down")
PROCESS = ("kill", "pause", "resume", "restart")
KINDS = NETWORK + ("misbehave",) + PROCESS
DONE = {"pause": "paused (SIGSTOP)", "resume": "resumed", "restart": "restarted"}


class ControlError(Exception):
    """A control that could not be done; the message is the API's one sentence."""


class _Unsupervised:
    """Members from the parts file when no supervisor owns the run: network and app faults
    work, process faults say why not."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def endpoints(self) -> dict[str, Any]:
        return {k: self.parts.status.get(k) for k in ("toxiproxy_api", "gateway", "controlplane")}

    def members(self) -> list[Member]:
        return [Member.from_status(i) for i in self.parts.status.get("instances", []) if i.get("kind") != "dashboard"]

    def _no(self, *_: Any, **__: Any) -> dict[str, Any]:
        raise FaultError("process faults need a `gatemesh up` run (its supervisor kills and restarts processes)")

    kill = pause = resume = restart = _no


def _number(params: dict[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if value in ("", None):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ControlError(f"{key} must be a number, got {value!r}") from None


class Controls:
    def __init__(
        self, parts: Callable[[], Parts], control: Callable[[], Control | None], state_file: Path | None = None
    ) -> None:
        self.parts = parts  # what runs now (the hub's last read)
        self.control = control  # the run's supervisor client, None without one
        self.state_file = state_file  # <run dir>/state.json of a `gatemesh up` run

    def faults(self) -> Faults:
        p = self.parts()
        control = self.control()
        backend = SupervisorBackend(control) if (p.supervised and control) else _Unsupervised(p)
        return Faults(backend, token=admin_token(p.status.get("run_dir")))  # apps' /admin/* behind a sidecar

    def policy_client(self) -> PolicyClient:
        return PolicyClient.from_status(self.parts().status)

    def run(self, fn: Callable[[], str]) -> str:
        try:
            return fn()
        except (
            FaultError,
            PolicyClientError,
            PolicyError,
            RunnerError,
            TopologyError,
            UnknownPreset,
            HttpError,
            ValueError,
            KeyError,
            TypeError,
            LabError,
        ) as e:
            raise ControlError(str(e).strip("'\"")) from None
        except OSError as e:
            raise ControlError(f"the API did not answer ({e})") from None

    # --- faults ----------------------------------------------------------------------
    def add_fault(self, target: str, kind: str, params: dict[str, Any]) -> str:
        kind = str(kind).replace("-", "_")
        if kind not in KINDS:
            raise ControlError(f"unknown fault kind {kind!r}; use one of: {', '.join(KINDS)}")
        f = self.faults()
        if kind == "kill":
            f.kill(target, str(params.get("signal") or "SIGKILL"))
            return f"killed {target}"
        if kind in ("pause", "resume", "restart"):
            getattr(f, kind)(target)
            return f"{target}: {DONE[kind]}"
        if kind == "down":
            fault = f.down(target)
        elif kind == "misbehave":
            seed = params.get("seed")
            fault = f.misbehave(
                target,
                _number(params, "error_rate", 1.0),
                int(_number(params, "error_status", 500)),
                _number(params, "delay_ms", 0),
                int(seed) if seed not in (None, "") else None,
            )
        else:  # a toxic: its settings are the toxic class's own fields (faults/toxics.py)
            fault = f.network(target, kind, **{k: v for k, v in params.items() if v not in ("", None)})
        return f"{fault.target}: {fault.description}"

    def remove_fault(self, target: str, kind: str | None = None) -> str:
        """The faults on one instance (of one kind), as `gatemesh fault remove` does."""
        f = self.faults()
        m = f.instance(target)
        removed = f.clear(m.name, kind)
        return f"{m.name}: removed {', '.join(removed)}" if removed else f"{m.name}: no fault to remove"

    # --- policies ----------------------------------------------------------------------
    def switch(self, service: str, at: str, pattern: str, enabled: bool) -> str:
        if pattern not in PATTERN_NAMES:
            raise ControlError(f"unknown pattern {pattern!r}; the patterns are: {', '.join(PATTERN_NAMES)}")
        self.policy_client().set(service, at, settings=[f"{pattern}.enabled={'true' if enabled else 'false'}"])
        return f"{pattern} {'on' if enabled else 'off'} for {service} at {at}"

    def apply_preset(self, service: str, at: str, name: str) -> str:
        self.policy_client().replace(service, at, preset(name))
        return f"preset {name} for {service} at {at}"

    # --- scale and reset -----------------------------------------------------------------
    def scale(self, service: str, count: Any) -> str:
        control = self.control()
        if control is None or not self.parts().supervised:
            raise ControlError("scaling needs a `gatemesh up` run (its supervisor starts and stops instances)")
        if isinstance(count, bool) or not isinstance(count, int):
            raise ControlError(f"count must be a whole number, got {count!r}")
        r = control.scale(service, count)
        return (
            f"{service}: {count} instances (added {', '.join(r.get('added') or []) or 'none'}, "
            f"removed {', '.join(r.get('removed') or []) or 'none'})"
        )

    def reset(self) -> str:
        """What `gatemesh reset` does (``gatemesh.workshop.reset_all``) on a `gatemesh up`
        run: faults off, counts back to the run's, policies back to the defaults, every
        proxy's breakers, ejections, budgets and fallbacks cleared. Elsewhere (compose) the
        same steps but the scaling, through the same clients."""
        if self.state_file is not None and self.control() is not None and self.parts().supervised:
            from gatemesh.workshop import LabContext, reset_all

            spec = read_json(self.state_file.parent / SPEC_FILE) or {}
            ctx = LabContext(self.state_file.parent.name)
            try:
                return reset_all(ctx, spec.get("counts")).sentence()
            finally:
                ctx.close()
        done = self.faults().reset()
        client = self.policy_client()
        services = sorted({i.get("service") for i in self.parts().status.get("instances", []) if i.get("service")})
        for service in services + ["*"]:
            client.reset(service, "both")
        cleared = 0
        for p in self.parts().parts:
            if p.kind in ("gateway", "sidecar") and p.url:
                try:
                    json_request("POST", p.url + "/-/reset", {}, timeout_s=2.0, ok=(200, 204))
                    cleared += 1
                except (HttpError, OSError, ValueError):
                    pass  # a proxy without /-/reset yet: its state heals by itself
        extra = [f"{k} {', '.join(v)}" for k, v in done.items() if v and k != "cleared"]
        return (
            "reset: faults removed, policies back to defaults"
            + (f", proxies cleared: {cleared}" if cleared else "")
            + (f" ({'; '.join(extra)})" if extra else "")
        )


PRESET_NAMES = sorted(PRESETS)
