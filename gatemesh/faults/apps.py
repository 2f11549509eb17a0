"""App faults: the services' own ``/admin/misbehave`` knob, and their ``/admin/stats``.

Called on the app's own port (never through its Toxiproxy proxy or sidecar), so a
network fault on the instance never blocks setting or clearing an app fault. An app
behind a sidecar answers there only the run's admin token (services/kit/guard.py), so
every call carries ``token`` when the caller has one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gatemesh.runner.webclient import HttpError, json_request
from gatemesh.security.credentials import bearer

from .errors import FaultError

ADMIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Misbehave:
    """What ``PUT /admin/misbehave`` takes (the service validates it too)."""

    error_rate: float = 1.0  # share of requests answered with error_status, 0..1
    error_status: int = 500  # 400..599
    delay_ms: float = 0.0  # waited before every answer
    seed: int | None = None  # reseeds the app's random source: the same failures each run

    def __post_init__(self) -> None:
        if not isinstance(self.error_rate, (int, float)) or not 0 <= self.error_rate <= 1:
            raise FaultError(f"error_rate must be a number from 0 to 1, got {self.error_rate!r}")
        if not isinstance(self.error_status, int) or not 400 <= self.error_status <= 599:
            raise FaultError(f"error_status must be an HTTP error status 400..599, got {self.error_status!r}")
        if not isinstance(self.delay_ms, (int, float)) or not 0 <= self.delay_ms <= 300_000:
            raise FaultError(f"delay_ms must be a number of ms from 0 to 300000, got {self.delay_ms!r}")

    kind = "misbehave"

    def body(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        parts = [f"error_rate={self.error_rate:g}", f"error_status={self.error_status}"]
        if self.delay_ms:
            parts.append(f"delay_ms={self.delay_ms:g}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return "misbehave " + " ".join(parts)


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    try:
        return json_request(method, url, body, timeout_s=ADMIN_TIMEOUT_S, headers=bearer(token))
    except HttpError as e:
        raise FaultError(f"{method} {url}: {e}") from None
    except (OSError, ValueError) as e:
        raise FaultError(f"{method} {url} failed ({e}); is the instance running?") from None


def set_misbehave(admin_url: str, m: Misbehave, token: str | None = None) -> dict[str, Any]:
    return _call("PUT", f"{admin_url}/admin/misbehave", m.body(), token)


def clear_misbehave(admin_url: str, token: str | None = None) -> dict[str, Any]:
    return _call("DELETE", f"{admin_url}/admin/misbehave", token=token)


def get_misbehave(admin_url: str, token: str | None = None) -> dict[str, Any]:
    return _call("GET", f"{admin_url}/admin/misbehave", token=token)


def requests_received(admin_url: str, token: str | None = None) -> int:
    """Requests the app received (``/admin/stats``), not counting /health and /admin/*."""
    return int(_call("GET", f"{admin_url}/admin/stats", token=token)["requests"])
