"""``Faults``: the one fault API over a running topology (see the package docstring)."""

from __future__ import annotations

import builtins
import itertools
import threading
from collections.abc import Callable
from typing import Any

from . import apps
from .apps import Misbehave
from .backends import Member, ProcessBackend, RunnerBackend, SupervisorBackend
from .errors import FaultError
from .network import ToxiproxyClient
from .schedule import Always, Schedule, Scheduled, Scheduler
from .toxics import TOXICS, Toxic
from .toxics import settings as toxic_settings

PROCESS_KINDS = ("kill", "pause")


class Fault:
    """A fault that was added; ``remove()`` (or leaving its ``with`` block) takes it away."""

    def __init__(
        self, target: str, kind: str, description: str, remove: Callable[[], None], scheduled: Scheduled | None = None
    ) -> None:
        self.target = target
        self.kind = kind
        self.description = description
        self.scheduled = scheduled
        self._remove = remove
        self.removed = False

    @property
    def active(self) -> bool:
        if self.removed:
            return False
        return self.scheduled.active if self.scheduled is not None else True

    def remove(self) -> None:
        if not self.removed:
            self.removed = True
            self._remove()

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"Fault({self.target}: {self.description})"


class Faults:
    """Network, process and app faults on one running topology, and ``reset()``."""

    def __init__(
        self,
        backend: ProcessBackend,
        toxiproxy: ToxiproxyClient | None = None,
        scheduler: Scheduler | None = None,
        token: str | None = None,
    ) -> None:
        self.backend = backend
        self.token = token  # the run's admin token: an app behind a sidecar takes /admin/* only with it
        self.toxiproxy = toxiproxy or ToxiproxyClient(backend.endpoints()["toxiproxy_api"])
        self.scheduler = scheduler or Scheduler()
        self._names = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def for_runner(cls, runner: Any) -> Faults:
        """Faults on an in-process ``ProcessRunner`` (call from the thread that started it)."""
        credentials = getattr(runner, "credentials", None)
        return cls(RunnerBackend(runner), token=getattr(credentials, "admin_token", None))

    @classmethod
    def for_run(cls, name: str = "default") -> Faults:
        """Faults on a ``gatemesh up --name NAME`` run, through its supervisor."""
        from gatemesh.runner.state import run_dir
        from gatemesh.security.credentials import admin_token

        return cls(SupervisorBackend.for_run(name), token=admin_token(run_dir(name)))

    # ------------------------------------------------------------------ targets

    def members(self) -> list[Member]:
        return self.backend.members()

    def member(self, name: str) -> Member:
        """Any process of the topology by name; FaultError naming the known ones."""
        members = self.members()
        for m in members:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in members)
        raise FaultError(f"no component named {name!r}; the components are: {known}")

    def instance(self, name: str) -> Member:
        """A service instance (``catalog-1``; ``sidecar-catalog-1`` means the same instance)."""
        members = self.members()
        wanted = name[len("sidecar-") :] if name.startswith("sidecar-") else name
        for m in members:
            if m.kind == "service" and m.name == wanted:
                return m
        known = ", ".join(m.name for m in members if m.kind == "service")
        raise FaultError(f"no instance named {name!r}; the instances are: {known}")

    # ------------------------------------------------------------------ network faults

    def toxic(self, instance: str, toxic: Toxic, schedule: Schedule | None = None) -> Fault:
        """Add a Toxiproxy toxic on the wire into ``instance`` (its proxy)."""
        m = self.instance(instance)
        proxy = m.proxy or m.name
        state: dict[str, str] = {}

        def apply() -> None:
            state["name"] = self._toxic_name(proxy, toxic)
            self.toxiproxy.add_toxic(proxy, state["name"], toxic)

        def revert() -> None:
            if "name" in state:
                self.toxiproxy.remove_toxic(proxy, state.pop("name"))

        return self._add(m.name, toxic.kind, toxic.describe(), apply, revert, schedule, m)

    def network(self, instance: str, kind: str, schedule: Schedule | None = None, **settings: Any) -> Fault:
        """A toxic named by its Toxiproxy type (``TOXICS``), its settings as the class's fields."""
        cls = TOXICS.get(kind.replace("-", "_"))
        if cls is None:
            raise FaultError(f"no network fault named {kind!r}; the network faults are: {', '.join(TOXICS)}")
        try:
            toxic = cls(**settings)
        except TypeError:
            known = [f.name for f in toxic_settings(cls)] + ["stream", "toxicity"]
            raise FaultError(f"{cls.kind} takes {', '.join(known)}; got {', '.join(sorted(settings))}") from None
        return self.toxic(instance, toxic, schedule)

    # One method per toxic, for readable tests and experiments; the settings, their
    # defaults and their checks are the toxic's own (faults/toxics.py).
    def latency(self, instance: str, **settings: Any) -> Fault:
        return self.network(instance, "latency", **settings)

    def timeout(self, instance: str, **settings: Any) -> Fault:
        """A black hole (``ms=0``): data stops, the connection stays open."""
        return self.network(instance, "timeout", **settings)

    def reset_peer(self, instance: str, **settings: Any) -> Fault:
        return self.network(instance, "reset_peer", **settings)

    def bandwidth(self, instance: str, **settings: Any) -> Fault:
        return self.network(instance, "bandwidth", **settings)

    def slicer(self, instance: str, **settings: Any) -> Fault:
        return self.network(instance, "slicer", **settings)

    def limit_data(self, instance: str, **settings: Any) -> Fault:
        return self.network(instance, "limit_data", **settings)

    def slow_close(self, instance: str, **settings: Any) -> Fault:
        return self.network(instance, "slow_close", **settings)

    def down(self, instance: str, schedule: Schedule | None = None) -> Fault:
        """Disable the instance's proxy: connections are refused, open ones dropped."""
        m = self.instance(instance)
        proxy = m.proxy or m.name
        return self._add(
            m.name,
            "down",
            "down (proxy disabled: connections refused)",
            lambda: self.toxiproxy.set_enabled(proxy, False),
            lambda: self.toxiproxy.set_enabled(proxy, True),
            schedule,
            m,
        )

    def up(self, instance: str) -> None:
        m = self.instance(instance)
        self.toxiproxy.set_enabled(m.proxy or m.name, True)

    def clear(self, instance: str, kind: str | None = None) -> builtins.list[str]:
        """Remove what is in force on one instance — its proxy down, its toxics, its app's
        misbehaviour — or only faults of one ``kind``; returns the kinds removed. Unlike
        ``Fault.remove`` this needs no handle: faults another process added go too."""
        m = self.instance(instance)
        proxy = m.proxy or m.name
        wanted = kind.replace("-", "_") if kind else None
        removed = []
        if wanted in (None, "down") and not (self.toxiproxy.snapshot().get(proxy) or {}).get("enabled", True):
            self.up(m.name)
            removed.append("down")
        if wanted not in ("down", "misbehave"):
            for t in self.toxiproxy.toxics(proxy):
                if wanted is None or t["type"] == wanted:
                    self.toxiproxy.remove_toxic(proxy, t["name"])
                    removed.append(t["type"])
        if wanted in (None, "misbehave") and m.admin_url:
            cfg = apps.get_misbehave(m.admin_url, self.token)
            if cfg.get("error_rate") or cfg.get("delay_ms"):
                apps.clear_misbehave(m.admin_url, self.token)
                removed.append("misbehave")
        return removed

    # ------------------------------------------------------------------ app faults

    def misbehave(
        self,
        instance: str,
        error_rate: float = 1.0,
        error_status: int = 500,
        delay_ms: float = 0,
        seed: int | None = None,
        schedule: Schedule | None = None,
    ) -> Fault:
        """The app answers ``error_status`` with probability ``error_rate`` after ``delay_ms``."""
        m = self.instance(instance)
        spec = Misbehave(error_rate, error_status, delay_ms, seed)
        admin = self._admin(m)

        def apply() -> None:
            apps.set_misbehave(admin, spec, self.token)

        def revert() -> None:
            apps.clear_misbehave(admin, self.token)

        return self._add(m.name, "misbehave", spec.describe(), apply, revert, schedule, m)

    def calls(self, instance: str) -> int:
        """Requests the instance's app has received (its ``/admin/stats``)."""
        return apps.requests_received(self._admin(self.instance(instance)), self.token)

    # ------------------------------------------------------------------ process faults

    def kill(self, component: str, signal: str = "SIGKILL") -> Fault:
        """``kill -9`` (or ``signal``); the returned fault's ``remove()`` restarts it."""
        self.member(component)
        self.backend.kill(component, signal)
        return Fault(component, "kill", f"killed ({signal})", lambda: _discard(self.backend.restart(component)))

    def pause(self, component: str) -> Fault:
        """SIGSTOP: it keeps its sockets and answers nothing; ``remove()`` resumes it."""
        self.member(component)
        self.backend.pause(component)
        return Fault(component, "pause", "paused (SIGSTOP)", lambda: _discard(self.backend.resume(component)))

    def resume(self, component: str) -> dict[str, Any]:
        self.member(component)
        return self.backend.resume(component)

    def restart(self, component: str) -> dict[str, Any]:
        self.member(component)
        return self.backend.restart(component)

    # ------------------------------------------------------------------ all of them

    def list(self) -> list[dict[str, Any]]:
        """Every fault in force now, read from where it lives (Toxiproxy, the apps, the
        processes), so it also shows faults another process added."""
        members = self.members()
        by_proxy = {m.proxy: m.name for m in members if m.kind == "service" and m.proxy}
        out: list[dict[str, Any]] = []
        for proxy, info in sorted(self.toxiproxy.snapshot().items()):
            target = by_proxy.get(proxy, proxy)
            if not info.get("enabled", True):
                out.append({"target": target, "kind": "down", "detail": "proxy disabled", "name": proxy})
            for t in info.get("toxics") or []:
                cls = TOXICS.get(t.get("type", ""))
                attrs = " ".join(f"{k}={v}" for k, v in (t.get("attributes") or {}).items())
                detail = f"{attrs} ({t.get('stream')}"
                detail += f" toxicity={t['toxicity']:g})" if t.get("toxicity", 1) != 1 else ")"
                out.append(
                    {
                        "target": target,
                        "kind": cls.kind if cls else t.get("type"),
                        "detail": detail,
                        "name": t.get("name"),
                    }
                )
        for m in members:
            if not m.alive:
                out.append({"target": m.name, "kind": "dead", "detail": "not running", "name": m.name})
            elif m.paused:
                out.append({"target": m.name, "kind": "pause", "detail": "paused (SIGSTOP)", "name": m.name})
            elif m.kind == "service" and m.admin_url:
                try:
                    cfg = apps.get_misbehave(m.admin_url, self.token)
                except FaultError:
                    continue
                if cfg.get("error_rate") or cfg.get("delay_ms"):
                    spec = Misbehave(
                        cfg.get("error_rate", 0), cfg.get("error_status", 500), cfg.get("delay_ms", 0), cfg.get("seed")
                    )
                    out.append(
                        {
                            "target": m.name,
                            "kind": "misbehave",
                            "detail": spec.describe()[len("misbehave ") :],
                            "name": m.name,
                        }
                    )
        for item in list(self.scheduler.items):
            out.append(
                {
                    "target": item.label.split(":", 1)[0],
                    "kind": "schedule",
                    "detail": f"{item.label.split(':', 1)[-1].strip()} [{item.schedule.describe()}, "
                    f"{'on' if item.active else 'off'}]" + (f" error: {item.error}" if item.error else ""),
                    "name": None,
                }
            )
        return out

    def reset(self, restart_dead: bool = True) -> dict[str, builtins.list[str]]:
        """Remove every fault: schedules, toxics, disabled proxies, misbehaviour; resume
        paused processes and (``restart_dead``) start killed ones again, in start order."""
        done: dict[str, list[str]] = {"resumed": [], "restarted": [], "cleared": []}
        self.scheduler.cancel_all()
        members = self.members()
        for m in members:
            if m.alive and m.paused:
                self.backend.resume(m.name)
                done["resumed"].append(m.name)
        if restart_dead:
            for m in members:  # start order: Toxiproxy and the control plane before the rest
                if not m.alive:
                    self.backend.restart(m.name)
                    done["restarted"].append(m.name)
        self.toxiproxy.reset()
        for m in members:
            if m.kind == "service" and m.admin_url and (m.alive or m.name in done["restarted"]):
                apps.clear_misbehave(m.admin_url, self.token)
                done["cleared"].append(m.name)
        return done

    # ------------------------------------------------------------------ internals

    def _toxic_name(self, proxy: str, toxic: Toxic) -> str:
        with self._lock:
            existing = {t.get("name") for t in (self.toxiproxy.snapshot().get(proxy) or {}).get("toxics") or []}
            base = f"gm_{toxic.kind}_{toxic.stream}"
            name, n = base, 1
            while name in existing:
                n += 1
                name = f"{base}_{n}"
            return name

    def _admin(self, m: Member) -> str:
        if not m.admin_url:
            raise FaultError(f"{m.name} has no admin endpoint (only service instances misbehave)")
        return m.admin_url

    def _add(
        self,
        target: str,
        kind: str,
        description: str,
        apply: Callable[[], None],
        revert: Callable[[], None],
        schedule: Schedule | None,
        m: Member,
    ) -> Fault:
        if schedule is None or isinstance(schedule, Always):
            apply()
            return Fault(target, kind, description, revert)
        admin_url = m.admin_url
        calls = (lambda: apps.requests_received(admin_url, self.token)) if admin_url else None
        item = Scheduled(f"{target}: {description}", schedule, apply, revert, calls)
        self.scheduler.add(item)
        return Fault(target, kind, f"{description} [{schedule.describe()}]", lambda: self.scheduler.remove(item), item)


def _discard(_: object) -> None:
    """A fault's remove() answers nothing: drop what the backend call returned."""
