"""What survives a control-plane restart: mesh policies, API management, and the last
known registrations.

Policies and API management are hard state a person set; losing them on a restart would
silently switch patterns back to the defaults across the mesh.

Registrations are soft state that instances renew every ttl/3 seconds, but they are kept
too: a control plane that came back with an empty registry handed proxies an empty or
partial snapshot until every instance had re-registered (issue 12: services dropped to
zero endpoints for up to 0.88 s after each restart, and `POST /api/orders` got 404
`unknown-service`). A warm-up of fixed length only guesses how long re-registering takes;
the file knows what was there. Restored instances get a fresh TTL, so the ones that died
while the control plane was down still leave within one TTL, as they would have anyway.
Registrations older than ``RESTORE_MAX_AGE_S`` are not restored (a run directory reused
long after: those instances are gone).

The file is rewritten (write-then-rename) on every visible change: registrations,
expiries, policies; heartbeats change nothing visible and write nothing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("gatemesh.controlplane")

RESTORE_MAX_AGE_S = 300.0  # = registry.MAX_TTL_S: no instance may stay unheard-of longer
# saved_at is rounded to the millisecond, so a file saved and read within that millisecond
# is up to 0.5 ms "from the future"; a second of slack also covers a wall clock stepped back.
FUTURE_SLACK_S = -1.0


@dataclass
class SavedState:
    policies: dict[str, Any] = field(default_factory=dict)
    apimgmt: dict[str, Any] = field(default_factory=dict)
    # [{"service", "instance", "address", "ttl_s", "meta"}]; [] when too old or never saved
    registrations: list[dict[str, Any]] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # known services, some perhaps with no instance
    existed: bool = False  # the file was there: this start is a restart


class StateFile:
    def __init__(self, path: str | Path, wall_time=time.time) -> None:
        self.path = Path(path)
        self._wall_time = wall_time

    def load(self) -> SavedState:
        """The saved state, or an empty one when the file does not exist yet."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return SavedState()
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the state file {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"cannot read the state file {self.path}: it is not a JSON object")
        registrations = data.get("registrations") or []
        saved_at = data.get("saved_at")
        age = self._wall_time() - saved_at if isinstance(saved_at, (int, float)) else None
        services = data.get("services") or []
        if (
            not isinstance(registrations, list)
            or not isinstance(services, list)
            or age is None
            or not FUTURE_SLACK_S <= age <= RESTORE_MAX_AGE_S
        ):
            if registrations:
                log.info(
                    "not restoring %d registration(s) saved %.0fs ago (older than %.0fs)",
                    len(registrations) if isinstance(registrations, list) else 0,
                    age or 0.0,
                    RESTORE_MAX_AGE_S,
                )
            registrations, services = [], []
        return SavedState(
            dict(data.get("policies") or {}),
            dict(data.get("apimgmt") or {}),
            [r for r in registrations if isinstance(r, dict)],
            [s for s in services if isinstance(s, str)],
            existed=True,
        )

    def save(self, document: dict[str, Any]) -> None:
        """Write ``document`` (policies, apimgmt, registrations) with the time it was saved."""
        # Write-then-rename, so a crash mid-write never leaves a half file behind.
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({**document, "saved_at": round(self._wall_time(), 3)}, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
