"""What runs: the parts file from the definition, overlaid with the supervisor's live
status when a ``gatemesh up`` supervisor owns the run (alive, paused, pids, and the
instances ``gatemesh scale`` added or removed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatemesh.runner.control import Control
from gatemesh.runner.errors import RunnerError
from gatemesh.runner.state import read_json


def base_url(health: str | None) -> str | None:
    """A component's admin base: its health URL without ``/health`` (Toxiproxy: ``/version``)."""
    if not health:
        return None
    for tail in ("/health", "/version"):
        if health.endswith(tail):
            return health[: -len(tail)]
    return health


@dataclass(frozen=True)
class Part:
    name: str
    kind: str  # toxiproxy | controlplane | service | sidecar | gateway
    service: str | None
    proxy: str | None
    url: str | None  # admin base (apps: /admin/*, proxies: /-/*, /metrics)
    alive: bool | None = None  # None: no supervisor to ask (the health probe decides)
    paused: bool = False


@dataclass
class Parts:
    status: dict[str, Any]  # endpoints + instances, as `gatemesh status --json`
    parts: list[Part] = field(default_factory=list)
    supervised: bool = False  # process controls available

    def of(self, kind: str) -> list[Part]:
        return [p for p in self.parts if p.kind == kind]

    def get(self, name: str) -> Part | None:
        return next((p for p in self.parts if p.name == name), None)


class PartsSource:
    """Reads the parts file once and the supervisor's status on every ``read()``."""

    def __init__(self, parts_file: Path | None, state_file: Path | None) -> None:
        self.state_file = state_file
        self.static: dict[str, Any] = json.loads(parts_file.read_text()) if parts_file else {}
        if parts_file is not None:  # the run directory, whose admin-token the controls and the sampler read
            self.static.setdefault("run_dir", str(parts_file.resolve().parent))

    def control(self) -> Control | None:
        if self.state_file is None:
            return None
        state = read_json(self.state_file)
        if not state or not state.get("control_url"):
            return None
        return Control.from_state(state)

    def read(self) -> Parts:
        status = dict(self.static)
        supervised = False
        control = self.control()
        if control is not None:
            try:
                live = control.status()
                status.update({k: v for k, v in live.items() if v is not None})
                supervised = True
            except RunnerError:
                pass
        parts = []
        for i in status.get("instances", []):
            if i.get("kind") == "dashboard":
                continue
            parts.append(
                Part(
                    i["name"],
                    i.get("kind", ""),
                    i.get("service"),
                    i.get("proxy"),
                    base_url(i.get("health")),
                    bool(i["alive"]) if supervised and "alive" in i else None,
                    bool(i.get("paused")) if supervised else False,
                )
            )
        return Parts(status, parts, supervised)
