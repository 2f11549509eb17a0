"""What must survive a control-plane restart: mesh policies and API management.

Registrations are deliberately not kept: they are soft state that instances renew
every ttl/3 seconds, so after a restart they come back by themselves (a 404 on the next
heartbeat makes an instance register again). Policies are hard state a person set; losing
them on a restart would silently switch patterns back to the defaults across the mesh.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger("controlplane")


class StateFile:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> tuple[dict, dict]:
        """(policies, apimgmt) from the file, or empty ones when it does not exist yet."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the state file {self.path}: {exc}") from None
        return dict(data.get("policies") or {}), dict(data.get("apimgmt") or {})

    def save(self, policies: dict, apimgmt: dict) -> None:
        # Write-then-rename, so a crash mid-write never leaves a half file behind.
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({"policies": policies, "apimgmt": apimgmt}, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
