"""Prometheus under the process runner: finding Debian's binary before anything starts,
and its HTTP API (``/api/v1/targets``, ``/api/v1/query``) for the CLI and the tests.

The component itself (its command line, port and scrape configuration) is topology data
(``gatemesh/topology/prometheus.py``): the runner starts it like any other component,
last (with the dashboard), once the proxies it scrapes answer, and `scale` rewrites its
targets file (Prometheus re-reads it by itself).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any
from urllib.parse import urlencode

from .errors import RunnerError
from .webclient import HttpError, json_request

PROMETHEUS_ENV = "GATEMESH_PROMETHEUS"  # a prometheus binary other than the one on PATH
API_TIMEOUT_S = 5.0  # one API call; a query over a run's few thousand series takes ms


def find_prometheus() -> str:
    """Path of ``prometheus``: ``$GATEMESH_PROMETHEUS``, then PATH (Debian's /usr/bin/prometheus)."""
    configured = os.environ.get(PROMETHEUS_ENV)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise RunnerError(f"{PROMETHEUS_ENV}={configured} is not an executable file; fix it or unset it")
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None)
    if found:
        return found
    raise RunnerError(
        "prometheus was not found (not on PATH, no $GATEMESH_PROMETHEUS); run scripts/setup.sh, "
        "which installs Debian's prometheus package (or start without --prometheus)"
    )


class PrometheusApi:
    """A running Prometheus's HTTP API; every failure is one `RunnerError` sentence."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _get(self, path: str) -> Any:
        try:
            body = json_request("GET", self.url + path, timeout_s=API_TIMEOUT_S)
        except (OSError, HttpError, ValueError) as e:
            raise RunnerError(f"Prometheus at {self.url} did not answer {path}: {e}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise RunnerError(f"Prometheus at {self.url} refused {path}: {body!r:.200}")
        return body["data"]

    def targets(self) -> list[dict[str, Any]]:
        """The active targets: each with ``labels``, ``health`` (up/down/unknown), ``lastError``."""
        return list(self._get("/api/v1/targets?state=active")["activeTargets"])

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
        return list(self._get("/api/v1/query?" + urlencode({"query": promql}))["result"])

    def wait_all_up(self, want: int, timeout_s: float) -> list[dict[str, Any]]:
        """Wait until `want` targets are all ``up``; RunnerError naming the others if not."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.targets()
            down = [t for t in found if t.get("health") != "up"]
            if len(found) >= want and not down:
                return found
            if time.monotonic() > deadline:
                names = ", ".join(
                    f"{t['labels'].get('instance')} ({t.get('lastError') or t.get('health')})" for t in down
                )
                raise RunnerError(
                    f"after {timeout_s:.0f}s Prometheus has {len(found)} of {want} targets, not up: {names or 'none'}"
                )
            time.sleep(0.25)
