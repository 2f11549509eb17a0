"""Process faults go through a *backend*: whatever runs the topology's processes.

A backend answers "what runs?" (``members``, ``endpoints``) and does the four process
faults by component name. Two ship here:

- ``RunnerBackend``: an in-process ``ProcessRunner`` (the chaos tests own one per worker);
  call it from the thread that started the runner (see ``gatemesh.runner.process``).
- ``SupervisorBackend``: the supervisor of a ``gatemesh up`` run, through its control API
  (``gatemesh.runner.control``); what ``gatemesh fault`` uses.

A docker compose backend only has to implement ``ProcessBackend`` (``docker kill -s
KILL``, ``docker pause``/``unpause``, ``docker restart``; members from the topology).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import FaultError

if TYPE_CHECKING:  # pragma: no cover
    from gatemesh.runner import ProcessRunner
    from gatemesh.runner.control import Control


@dataclass(frozen=True)
class Member:
    """One process of the topology, as the fault API sees it."""

    name: str  # catalog-1, sidecar-catalog-1, controlplane, gateway, toxiproxy
    kind: str  # service | sidecar | controlplane | gateway | toxiproxy
    service: str | None = None
    instance: str | None = None
    proxy: str | None = None  # its Toxiproxy proxy (apps and sidecars)
    admin_url: str | None = None  # the app's own base URL (apps only): /admin/misbehave, /admin/stats
    pid: int | None = None
    alive: bool = True
    paused: bool = False

    @classmethod
    def from_status(cls, entry: dict[str, Any]) -> Member:
        """From one ``instances`` entry of ``ProcessRunner.status()`` (and the supervisor's)."""
        admin = None
        if entry.get("kind") == "service" and entry.get("health"):
            admin = str(entry["health"]).rsplit("/health", 1)[0]
        return cls(
            name=entry["name"],
            kind=entry.get("kind", ""),
            service=entry.get("service"),
            instance=entry.get("name") if entry.get("kind") == "service" else None,
            proxy=entry.get("proxy"),
            admin_url=admin,
            pid=entry.get("pid"),
            alive=bool(entry.get("alive", True)),
            paused=bool(entry.get("paused", False)),
        )


@runtime_checkable
class ProcessBackend(Protocol):
    def endpoints(self) -> dict[str, Any]:
        """At least ``toxiproxy_api``; also ``gateway``, ``controlplane`` where they exist."""

    def members(self) -> list[Member]:
        """Every process of the topology, with whether it is alive and paused."""

    def kill(self, name: str, signal: str = "SIGKILL") -> dict[str, Any]: ...

    def pause(self, name: str) -> dict[str, Any]: ...

    def resume(self, name: str) -> dict[str, Any]: ...

    def restart(self, name: str) -> dict[str, Any]: ...


def _signal_number(name: str) -> int:
    import signal as _signal

    text = str(name).upper()
    text = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(_signal.Signals[text])
    except KeyError:
        raise FaultError(f"unknown signal {name!r}; use e.g. SIGKILL or SIGTERM") from None


class RunnerBackend:
    """Process faults on an in-process ``ProcessRunner``."""

    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner

    def endpoints(self) -> dict[str, Any]:
        e = self.runner.topology.endpoints
        return {"toxiproxy_api": e.toxiproxy_api, "gateway": e.gateway, "controlplane": e.controlplane}

    def members(self) -> list[Member]:
        return [Member.from_status(i) for i in self.runner.status()["instances"]]

    def _run(self, fn, *args: Any) -> dict[str, Any]:
        from gatemesh.runner import RunnerError

        try:
            return fn(*args)
        except RunnerError as e:
            raise FaultError(str(e)) from None

    def kill(self, name: str, signal: str = "SIGKILL") -> dict[str, Any]:
        return self._run(self.runner.kill, name, _signal_number(signal))

    def pause(self, name: str) -> dict[str, Any]:
        return self._run(self.runner.pause, name)

    def resume(self, name: str) -> dict[str, Any]:
        return self._run(self.runner.resume, name)

    def restart(self, name: str) -> dict[str, Any]:
        return self._run(self.runner.restart, name)


class SupervisorBackend:
    """Process faults on a ``gatemesh up`` run, through its supervisor's control API."""

    def __init__(self, control: Control) -> None:
        self.control = control
        self._status: dict[str, Any] | None = None

    @classmethod
    def for_run(cls, name: str) -> SupervisorBackend:
        """The running topology ``name`` (``.gatemesh/run/<name>/state.json``)."""
        from gatemesh.runner.control import Control
        from gatemesh.runner.errors import RunnerError
        from gatemesh.runner.process import is_ours
        from gatemesh.runner.state import read_state, run_dir

        try:
            state = read_state(run_dir(name))
        except RunnerError as e:
            raise FaultError(str(e)) from None
        hint = "" if name == "default" else f" --name {name}"
        if state is None or not (state.get("pid") and is_ours(int(state["pid"]), state.get("argv") or [])):
            raise FaultError(f"no topology named {name!r} is running; start one with: gatemesh up{hint}")
        if state.get("status") != "running":
            raise FaultError(f"the topology {name!r} is {state.get('status')}; wait until it is running")
        try:
            return cls(Control.from_state(state))
        except RunnerError as e:
            raise FaultError(str(e)) from None

    def _call(self, fn, *args: Any, **kwargs: Any) -> Any:
        from gatemesh.runner.errors import RunnerError

        try:
            return fn(*args, **kwargs)
        except RunnerError as e:
            raise FaultError(str(e)) from None

    def status(self, fresh: bool = True) -> dict[str, Any]:
        if fresh or self._status is None:
            self._status = self._call(self.control.status)
        return self._status

    def endpoints(self) -> dict[str, Any]:
        s = self.status(fresh=False)
        return {
            "toxiproxy_api": s.get("toxiproxy_api"),
            "gateway": s.get("gateway"),
            "controlplane": s.get("controlplane"),
        }

    def members(self) -> list[Member]:
        return [Member.from_status(i) for i in self.status().get("instances", [])]

    def kill(self, name: str, signal: str = "SIGKILL") -> dict[str, Any]:
        return self._call(self.control.component, name, "kill", signal=signal)

    def pause(self, name: str) -> dict[str, Any]:
        return self._call(self.control.component, name, "pause")

    def resume(self, name: str) -> dict[str, Any]:
        return self._call(self.control.component, name, "resume")

    def restart(self, name: str) -> dict[str, Any]:
        return self._call(self.control.component, name, "restart", timeout_s=90.0)
