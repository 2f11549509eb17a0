"""The nemesis's client: orders written through the gateway, each retried with its own
``Idempotency-Key`` until it is acknowledged.

Every order gets a key ``nemesis-<run>-<n>`` and a product and quantity drawn from the
seed (so the checker can tell an order the client sent from one it did not). A writer
sends it, and on anything but a 2xx (a proxy's refusal, a reset, its own timeout) sends
the same request again after a capped backoff, until the order is acknowledged or its
``give_up_s`` has passed. Each attempt is recorded: how many orders needed retries, what
failed and why, and which order id every acknowledgement named (two different ids for one
key would be a duplicate the database cannot show, since the key is UNIQUE there).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

ATTEMPT_TIMEOUT_S = 8.0  # the client's own limit per attempt (the gateway's request timeout is 5 s)
BACKOFF_S = (0.05, 1.0)  # first and largest pause between two attempts at one order
GIVE_UP_S = 120.0  # an order not acknowledged by then is reported unacknowledged


@dataclass
class OrderRecord:
    key: str
    product_id: int
    quantity: int
    attempts: int = 0
    acked_ids: list[int] = field(default_factory=list)  # every id an acknowledgement named
    failures: list[str] = field(default_factory=list)  # why each failed attempt failed

    @property
    def acked(self) -> bool:
        return bool(self.acked_ids)


class OrderWriter:
    """``writers`` threads writing ``orders`` orders, at most ``rate_per_s`` new ones a second."""

    def __init__(
        self,
        gateway: str,
        api_key: str,
        run_id: str,
        orders: int,
        seed: int,
        writers: int = 4,
        rate_per_s: float = 10.0,
        give_up_s: float = GIVE_UP_S,
    ) -> None:
        if orders < 1 or not 1 <= writers <= 32 or rate_per_s <= 0:
            raise ValueError(f"orders >= 1, writers 1..32 and rate_per_s > 0, got {orders}, {writers}, {rate_per_s}")
        self.url = gateway.rstrip("/") + "/api/orders"
        self.api_key = api_key
        self.give_up_s = give_up_s
        self.writers = writers
        self.gap_s = writers / rate_per_s
        rng = random.Random(seed)
        self.records = [
            OrderRecord(f"nemesis-{run_id}-{n:05d}", rng.randint(1, 20), rng.randint(1, 5)) for n in range(orders)
        ]
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def prefix(self) -> str:
        return self.records[0].key.rsplit("-", 1)[0] + "-"

    def start(self) -> None:
        for n in range(self.writers):
            t = threading.Thread(target=self._run, args=(n,), name=f"order-writer-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def wait(self, timeout_s: float) -> bool:
        """True once every order was written (acknowledged or given up on)."""
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        self._stop.set()
        self.wait(ATTEMPT_TIMEOUT_S + 2)

    @property
    def done(self) -> int:
        with self._lock:
            return self._next

    def _take(self) -> OrderRecord | None:
        with self._lock:
            if self._next >= len(self.records) or self._stop.is_set():
                return None
            record = self.records[self._next]
            self._next += 1
            return record

    def _run(self, n: int) -> None:
        session = requests.Session()
        rng = random.Random(n)
        while (record := self._take()) is not None:
            t0 = time.monotonic()
            self._write(session, record, rng)
            pause = self.gap_s - (time.monotonic() - t0)
            if pause > 0:
                self._stop.wait(pause)

    def _write(self, session: requests.Session, record: OrderRecord, rng: random.Random) -> None:
        deadline = time.monotonic() + self.give_up_s
        pause = BACKOFF_S[0]
        headers = {"X-Api-Key": self.api_key, "Idempotency-Key": record.key}
        body = {"product_id": record.product_id, "quantity": record.quantity}
        while not self._stop.is_set() and time.monotonic() < deadline:
            record.attempts += 1
            try:
                resp = session.post(self.url, json=body, headers=headers, timeout=ATTEMPT_TIMEOUT_S)
            except requests.RequestException as e:
                record.failures.append(f"client: {type(e).__name__}")
                session = requests.Session()  # a broken connection is not reused
            else:
                if 200 <= resp.status_code < 300:
                    try:
                        record.acked_ids.append(int(resp.json()["id"]))
                        return
                    except (ValueError, KeyError, TypeError):
                        record.failures.append(f"{resp.status_code} without an order id")
                else:
                    reason = resp.headers.get("X-Gatemesh-Reason", "")
                    record.failures.append(f"{resp.status_code} {reason}".strip())
            self._stop.wait(pause * rng.uniform(0.5, 1.0))
            pause = min(BACKOFF_S[1], pause * 2)

    def summary(self) -> dict[str, Any]:
        failures = Counter(f for r in self.records for f in r.failures)
        attempts = sum(r.attempts for r in self.records)
        return {
            "orders": len(self.records),
            "sent": sum(1 for r in self.records if r.attempts),
            "acknowledged": sum(1 for r in self.records if r.acked),
            "unacknowledged": sum(1 for r in self.records if r.attempts and not r.acked),
            "attempts": attempts,
            "failed_attempts": sum(failures.values()),
            "orders_retried": sum(1 for r in self.records if r.attempts > 1),
            "failed_by_reason": dict(failures.most_common(10)),
        }
