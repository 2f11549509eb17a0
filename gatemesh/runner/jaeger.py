"""Jaeger (v2, the trace backend) as a process of the local runner, like Toxiproxy: the
binary that scripts/install-jaeger.sh builds, started by `gatemesh up` in the first start
group with a config that binds every port to loopback (the topology writes it:
gatemesh/topology/jaeger.py), and asked over its HTTP query API.

  find_jaeger()                  the binary: $GATEMESH_JAEGER, <repo>/.tools/bin, then PATH
  JaegerQuery(url).trace(id)     GET /api/traces/{id}, one trace's spans
  JaegerQuery(url).find(service) GET /api/traces?service=..., the latest traces
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from .errors import RunnerError
from .preflight import REPO_ROOT

JAEGER_ENV = "GATEMESH_JAEGER"
QUERY_TIMEOUT_S = 5.0  # one query-API request: the in-memory store answers in milliseconds


def find_jaeger() -> str:
    """Path of the `jaeger` binary, in the order scripts/install-jaeger.sh installs it."""
    configured = os.environ.get(JAEGER_ENV)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise RunnerError(
            f"{JAEGER_ENV}={configured} is not an executable file; fix it, unset it, or run scripts/setup.sh"
        )
    local = REPO_ROOT / ".tools" / "bin" / "jaeger"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("jaeger")
    if found:
        return found
    raise RunnerError(
        "jaeger was not found (not on PATH, not in .tools/bin, no "
        f"{JAEGER_ENV}); run scripts/setup.sh to install it, or start with --no-jaeger"
    )


class JaegerQuery:
    """Jaeger's HTTP query API (the one its UI uses), at `url` (http://127.0.0.1:16686)."""

    def __init__(self, url: str, timeout_s: float = QUERY_TIMEOUT_S):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:  # noqa: S310 (loopback only)
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RunnerError(f"Jaeger at {self.url} answered {e.code} to {path}") from None
        except (OSError, ValueError) as e:
            raise RunnerError(f"Jaeger at {self.url} does not answer ({path}): {e}") from None

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of one trace (each with its `process`), [] when Jaeger has none."""
        body = self._get(f"/api/traces/{urllib.parse.quote(trace_id)}")
        return _spans(body["data"][0]) if body and body.get("data") else []

    def find(self, service: str, limit: int = 20, lookback: str = "1h") -> list[list[dict[str, Any]]]:
        """The latest `limit` traces that `service` took part in, newest first."""
        body = self._get("/api/traces", {"service": service, "limit": limit, "lookback": lookback}) or {}
        traces = [_spans(t) for t in body.get("data") or []]
        return sorted(traces, key=lambda spans: -min((s["startTime"] for s in spans), default=0))

    def services(self) -> list[str]:
        return list((self._get("/api/services") or {}).get("data") or [])


def _spans(trace: dict[str, Any]) -> list[dict[str, Any]]:
    processes = trace.get("processes") or {}
    out = []
    for span in trace.get("spans") or []:
        proc = processes.get(span.get("processID"), {})
        tags = {t["key"]: t["value"] for t in proc.get("tags") or []}
        out.append({**span, "service": proc.get("serviceName", "?"), "process_tags": tags})
    return out
