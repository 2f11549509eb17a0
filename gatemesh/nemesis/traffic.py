"""Background read/write traffic through the gateway, bounded in count and time, for
judging a fault by what clients saw (``Traffic``).

A few threads share one target rate (an open loop: a request is due every
``threads / rate_per_s`` seconds per thread whether or not the last one was slow, so a
stall shows up). Each request is one of the ``MIX`` below, judged as ``ok``,
``degraded`` (a product page without an optional part: a 200 the client should notice)
or ``failed`` (anything else, with the proxy's reason or ``http-<status>`` or
``client-error``). Every order posted carries its own ``Idempotency-Key`` and is sent
once: a failure here is a failure a client saw, not something a retry hid.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

REQUEST_TIMEOUT_S = 10.0  # a request still open after this is failed as client-timeout
REASON_HEADER = "X-Gatemesh-Reason"
DEGRADED_HEADER = "X-Gatemesh-Degraded"
#: (method, path) and its weight: reads of an atomic service, composed pages, and writes.
MIX: tuple[tuple[str, str, int], ...] = (
    ("GET", "/api/catalog/1", 4),
    ("GET", "/api/products/2", 2),  # composed at the gateway: degraded if a part is missing
    ("POST", "/api/orders", 2),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    at_s: float  # seconds since the traffic started
    method: str
    path: str
    status: int  # 0: no HTTP answer
    verdict: str  # ok | degraded | failed
    reason: str  # the proxy's reason, http-<status>, client-timeout, client-error or ""
    elapsed_s: float


@dataclass
class TrafficReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    def count(self, verdict: str) -> int:
        return sum(1 for o in self.outcomes if o.verdict == verdict)

    def reasons(self) -> Counter[str]:
        return Counter(f"{o.method} {o.path}: {o.reason}" for o in self.outcomes if o.verdict != "ok")

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.total,
            "ok": self.count("ok"),
            "degraded": self.count("degraded"),
            "failed": self.count("failed"),
            "not_ok_by_reason": dict(self.reasons().most_common(12)),
        }

    def line(self) -> str:
        d = self.to_dict()
        worst = ", ".join(f"{k} x{v}" for k, v in list(d["not_ok_by_reason"].items())[:4])
        return f"{d['requests']} requests: {d['ok']} ok, {d['degraded']} degraded, {d['failed']} failed" + (
            f" ({worst})" if worst else ""
        )


class Traffic:
    """``with Traffic(gateway, key, rate_per_s=80) as t: ...`` then ``t.report``."""

    def __init__(
        self,
        gateway: str,
        api_key: str,
        rate_per_s: float = 80.0,
        threads: int = 8,
        max_requests: int = 50_000,
        max_s: float = 600.0,
    ) -> None:
        if not 0 < rate_per_s <= 2000 or not 1 <= threads <= 64:
            raise ValueError(f"rate_per_s must be in (0, 2000] and threads in 1..64, got {rate_per_s}, {threads}")
        self.gateway = gateway.rstrip("/")
        self.api_key = api_key
        self.rate_per_s = rate_per_s
        self.threads = threads
        self.max_requests = max_requests
        self.max_s = max_s
        self.report = TrafficReport()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._t0 = 0.0
        self._plan = [(m, p) for m, p, w in MIX for _ in range(w)]

    def __enter__(self) -> Traffic:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._t0 = time.monotonic()
        for n in range(self.threads):
            t = threading.Thread(target=self._run, args=(n,), name=f"traffic-{n}", daemon=True)
            t.start()
            self._workers.append(t)

    def stop(self) -> TrafficReport:
        self._stop.set()
        for t in self._workers:
            t.join(REQUEST_TIMEOUT_S + 2)
        self._workers.clear()
        return self.report

    def _run(self, n: int) -> None:
        session = requests.Session()
        interval = self.threads / self.rate_per_s
        due = self._t0 + n * interval / self.threads  # threads staggered across one interval
        i = n
        while not self._stop.is_set():
            now = time.monotonic()
            if now - self._t0 > self.max_s or self.report.total >= self.max_requests:
                return
            if due > now:
                self._stop.wait(due - now)
                continue
            method, path = self._plan[i % len(self._plan)]
            i += self.threads
            due += interval
            self._record(self._one(session, method, path))

    def _one(self, session: requests.Session, method: str, path: str) -> Outcome:
        t0 = time.monotonic()
        headers = {"X-Api-Key": self.api_key}
        body = None
        if method == "POST":
            headers["Idempotency-Key"] = f"traffic-{uuid.uuid4().hex}"
            body = {"product_id": 1, "quantity": 1}
        try:
            resp = session.request(method, self.gateway + path, headers=headers, json=body, timeout=REQUEST_TIMEOUT_S)
        except requests.Timeout:
            return Outcome(t0 - self._t0, method, path, 0, "failed", "client-timeout", time.monotonic() - t0)
        except requests.RequestException:
            return Outcome(t0 - self._t0, method, path, 0, "failed", "client-error", time.monotonic() - t0)
        elapsed = time.monotonic() - t0
        reason = resp.headers.get(REASON_HEADER, "")
        if not 200 <= resp.status_code < 300:
            return Outcome(
                t0 - self._t0, method, path, resp.status_code, "failed", f"{resp.status_code} {reason}".strip(), elapsed
            )
        if resp.headers.get(DEGRADED_HEADER):
            return Outcome(
                t0 - self._t0,
                method,
                path,
                resp.status_code,
                "degraded",
                f"degraded {resp.headers[DEGRADED_HEADER]}",
                elapsed,
            )
        return Outcome(t0 - self._t0, method, path, resp.status_code, "ok", "", elapsed)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.report.outcomes.append(outcome)
