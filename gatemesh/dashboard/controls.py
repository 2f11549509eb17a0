"""What the page's buttons do, through the same APIs the CLI uses: ``gatemesh.faults``
(Toxiproxy, the apps' misbehave knob, the supervisor's process control),
``gatemesh.policy_client`` (edge and mesh policies, presets) and the supervisor's
``/scale``. Each action is one blocking call (run in a thread by the server) that
returns a sentence, or raises ``ControlError`` with the API's one-line message."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gatemesh.faults import FaultError, Faults
from gatemesh.faults.backends import Member, SupervisorBackend
from gatemesh.policy import PATTERN_NAMES, PolicyError
from gatemesh.policy_client import PolicyClient, PolicyClientError
from gatemesh.presets import PRESETS, UnknownPreset, preset
from gatemesh.runner.control import Control
from gatemesh.runner.errors import RunnerError
from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.topology import TopologyError

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
    def __init__(self, parts: Callable[[], Parts], control: Callable[[], Control | None]) -> None:
        self.parts = parts          # what runs now (the hub's last read)
        self.control = control      # the run's supervisor client, None without one

    def faults(self) -> Faults:
        p = self.parts()
        control = self.control()
        backend = SupervisorBackend(control) if (p.supervised and control) else _Unsupervised(p)
        return Faults(backend)

    def policy_client(self) -> PolicyClient:
        return PolicyClient.from_status(self.parts().status)

    def run(self, fn: Callable[[], str]) -> str:
        try:
            return fn()
        except (FaultError, PolicyClientError, PolicyError, RunnerError, TopologyError, UnknownPreset,
                HttpError, ValueError, KeyError, TypeError) as e:
            raise ControlError(str(e).strip("'\"")) from None
        except OSError as e:
            raise ControlError(f"the API did not answer ({e})") from None

    # --- faults ----------------------------------------------------------------------
    def add_fault(self, target: str, kind: str, params: dict[str, Any]) -> str:
        kind = str(kind).replace("-", "_")
        if kind not in KINDS:
            raise ControlError(f"unknown fault kind {kind!r}; use one of: {', '.join(KINDS)}")
        f = self.faults()
        n = lambda key, default: _number(params, key, default)
        toxic = {"stream": params["stream"]} if params.get("stream") else {}
        if "toxicity" in params and params["toxicity"] not in ("", None):
            toxic["toxicity"] = n("toxicity", 1.0)
        if kind == "kill":
            f.kill(target, str(params.get("signal") or "SIGKILL"))
            return f"killed {target}"
        if kind in ("pause", "resume", "restart"):
            getattr(f, kind)(target)
            return f"{target}: {DONE[kind]}"
        if kind == "latency":
            fault = f.latency(target, n("ms", 1000), n("jitter_ms", 0), **toxic)
        elif kind == "timeout":
            fault = f.timeout(target, n("ms", 0), **toxic)
        elif kind == "reset_peer":
            fault = f.reset_peer(target, n("timeout_ms", 0), **toxic)
        elif kind == "bandwidth":
            fault = f.bandwidth(target, n("rate_kbps", 1), **toxic)
        elif kind == "slicer":
            fault = f.slicer(target, int(n("average_size_bytes", 1)), int(n("size_variation_bytes", 0)),
                             int(n("delay_us", 1000)), **toxic)
        elif kind == "limit_data":
            fault = f.limit_data(target, int(n("bytes", 0)), **toxic)
        elif kind == "slow_close":
            fault = f.slow_close(target, n("delay_ms", 1000), **toxic)
        elif kind == "down":
            fault = f.down(target)
        else:
            seed = params.get("seed")
            fault = f.misbehave(target, n("error_rate", 1.0), int(n("error_status", 500)), n("delay_ms", 0),
                                int(seed) if seed not in (None, "") else None)
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
        return f"{service}: {count} instances (added {', '.join(r.get('added') or []) or 'none'}, " \
               f"removed {', '.join(r.get('removed') or []) or 'none'})"

    def reset(self) -> str:
        """Every fault off (killed ones restarted), every policy back to its defaults, and
        every proxy's breaker, ejection and budget state cleared where it offers ``/-/reset``."""
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
        return "reset: faults removed, policies back to defaults" + (f", proxies cleared: {cleared}" if cleared else "") \
            + (f" ({'; '.join(extra)})" if extra else "")


PRESET_NAMES = sorted(PRESETS)
