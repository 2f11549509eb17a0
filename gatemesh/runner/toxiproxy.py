"""The few calls the runner makes to Toxiproxy's HTTP API (proxies only; toxics are
the chaos tools' business)."""
from __future__ import annotations

from typing import Iterable

from gatemesh.topology import Proxy

from .errors import RunnerError
from .webclient import HttpError, json_request


class ToxiproxyAdmin:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")

    def populate(self, proxies: Iterable[Proxy]) -> None:
        """Create (or replace) every proxy in one call."""
        body = [p.to_api() for p in proxies]
        if not body:
            return
        try:
            json_request("POST", f"{self.api_url}/populate", body, timeout_s=5.0)
        except (OSError, HttpError) as e:
            raise RunnerError(f"could not create the Toxiproxy proxies at {self.api_url}: {e}") from e

    def delete(self, name: str) -> None:
        try:
            json_request("DELETE", f"{self.api_url}/proxies/{name}", ok=(204, 200, 404))
        except (OSError, HttpError):
            pass  # best effort: the proxy goes away with toxiproxy anyway

    def names(self) -> set[str]:
        return set(json_request("GET", f"{self.api_url}/proxies") or {})
