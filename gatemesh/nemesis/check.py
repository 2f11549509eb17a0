"""The exactly-once check: what the client was told against what the orders database and
the API hold.

- **duplicated**: a key with more than one row, or acknowledgements naming different ids
  for one key (the client was told of two orders for one request);
- **lost**: an acknowledged order missing from the database or the API, or held there
  under another id than the one acknowledged;
- **invented**: a row under the run's key prefix that the client never sent, or whose
  product or quantity differ from what was sent with that key;
- **disagree**: the database and ``GET /api/orders`` do not list the same orders.

An order the client gave up on (never acknowledged) may or may not exist: it is counted
as ``unacknowledged`` and, when present, as ``unacknowledged_present``; neither is a
violation. The database is opened read-only; the API is read through the gateway page by
page.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from .client import OrderRecord

PAGE = 1000  # the orders service's largest page
MAX_PAGES = 1000  # a million orders: far beyond any run, never unbounded


@dataclass(frozen=True)
class Verdict:
    orders: int
    acknowledged: int
    in_database: int
    in_api: int
    duplicated: int
    lost: int
    invented: int
    disagree: int
    unacknowledged: int
    unacknowledged_present: int

    @property
    def ok(self) -> bool:
        return not (self.duplicated or self.lost or self.invented or self.disagree)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


Row = tuple[int, str, int, int]  # id, key, product_id, quantity


def database_rows(db: Path, prefix: str) -> list[Row]:
    uri = f"file:{db}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=10) as conn:
        cur = conn.execute(
            "SELECT id, idempotency_key, product_id, quantity FROM orders "
            "WHERE substr(idempotency_key, 1, ?) = ? ORDER BY id",
            (len(prefix), prefix),
        )
        return [(int(i), str(k), int(p), int(q)) for i, k, p, q in cur.fetchall()]


def api_rows(gateway: str, api_key: str, prefix: str) -> list[Row]:
    rows: list[Row] = []
    session = requests.Session()
    for page in range(MAX_PAGES):
        resp = session.get(
            f"{gateway.rstrip('/')}/api/orders",
            params={"limit": PAGE, "offset": page * PAGE},
            headers={"X-Api-Key": api_key},
            timeout=30,
        )
        resp.raise_for_status()
        orders = resp.json()["orders"]
        rows += [
            (int(o["id"]), o["idempotency_key"], int(o["product_id"]), int(o["quantity"]))
            for o in orders
            if str(o.get("idempotency_key") or "").startswith(prefix)
        ]
        if len(orders) < PAGE:
            break
    return rows


def judge(records: Iterable[OrderRecord], db_rows: list[Row], api: list[Row]) -> Verdict:
    sent: Mapping[str, OrderRecord] = {r.key: r for r in records if r.attempts}
    by_key: dict[str, list[Row]] = {}
    for row in db_rows:
        by_key.setdefault(row[1], []).append(row)
    duplicated = sum(1 for rows in by_key.values() if len(rows) > 1)
    duplicated += sum(1 for r in sent.values() if len(set(r.acked_ids)) > 1)
    api_ids = {row[0]: row for row in api}
    lost = invented = 0
    for r in sent.values():
        rows = by_key.get(r.key, [])
        if r.acked and (not rows or rows[0][0] not in r.acked_ids or rows[0][0] not in api_ids):
            lost += 1
    for key, rows in by_key.items():
        asked = sent.get(key)
        if asked is None or any((row[2], row[3]) != (asked.product_id, asked.quantity) for row in rows):
            invented += 1
    disagree = len(set(db_rows) ^ set(api))
    unacked = [r for r in sent.values() if not r.acked]
    return Verdict(
        len(sent),
        sum(1 for r in sent.values() if r.acked),
        len(db_rows),
        len(api),
        duplicated,
        lost,
        invented,
        disagree,
        len(unacked),
        sum(1 for r in unacked if r.key in by_key),
    )


def check(records: list[OrderRecord], db: Path, gateway: str, api_key: str, prefix: str) -> Verdict:
    return judge(records, database_rows(db, prefix), api_rows(gateway, api_key, prefix))


def duplicates_by_key(rows: Iterable[Row]) -> Counter[str]:
    """Keys held by more than one row (for the report's detail)."""
    counts = Counter(row[1] for row in rows)
    return Counter({k: n for k, n in counts.items() if n > 1})
