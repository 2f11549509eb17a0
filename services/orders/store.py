"""The orders table in one SQLite file shared by every orders instance.

Race safety across processes:
- every instance opens the file in WAL mode with a busy timeout, and creates the
  schema inside ``BEGIN IMMEDIATE`` (one writer at a time), with IF NOT EXISTS, so
  whichever instance starts first creates it and the others find it;
- ``create`` is insert-or-select in one IMMEDIATE transaction: ``INSERT ... ON
  CONFLICT(idempotency_key) DO NOTHING`` (the UNIQUE constraint decides), then the
  row for that key is read back. Two instances posting the same key at once get the
  same row; exactly one of them is told it created it.

Calls are blocking and tiny; the app runs them in a thread (asyncio.to_thread).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

BUSY_TIMEOUT_S = 5.0  # how long a writer waits for another instance's transaction
WAL_ATTEMPTS = 50  # switching to WAL needs a moment alone with the file

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id      INTEGER NOT NULL,
    quantity        INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,            -- NULL for orders posted without a key
    created_by      TEXT NOT NULL,          -- the instance that inserted the row
    created_at      TEXT NOT NULL           -- ISO 8601, UTC
)
"""

COLUMNS = "id, product_id, quantity, idempotency_key, created_by, created_at"


@dataclass(frozen=True)
class Order:
    id: int
    product_id: int
    quantity: int
    idempotency_key: str | None
    created_by: str
    created_at: str

    def to_json(self) -> dict:
        return asdict(self)


class OrderStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()  # one statement sequence at a time on this connection
        self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._enable_wal()
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._transaction():
                self._conn.execute(SCHEMA)
        except BaseException:
            self._conn.close()
            raise

    def _enable_wal(self) -> None:
        for attempt in range(WAL_ATTEMPTS):
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                    raise
                time.sleep(0.02)

    @contextlib.contextmanager
    def _transaction(self, kind: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """IMMEDIATE takes the write lock up front; DEFERRED is a consistent read."""
        self._conn.execute(f"BEGIN {kind}")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def create(self, product_id: int, quantity: int, key: str | None, created_by: str) -> tuple[Order, bool]:
        """Insert a new order, or return the one already stored under ``key``.

        Returns (order, created). The caller compares the stored order with the
        request to tell a replay from a reuse of the key for a different order.
        """
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock, self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO orders (product_id, quantity, idempotency_key, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                (product_id, quantity, key, created_by, now),
            )
            created = cur.rowcount == 1
            if created:
                row = conn.execute(f"SELECT {COLUMNS} FROM orders WHERE id = ?", (cur.lastrowid,)).fetchone()
            else:
                row = conn.execute(f"SELECT {COLUMNS} FROM orders WHERE idempotency_key = ?", (key,)).fetchone()
        return Order(*row), created

    def get(self, order_id: int) -> Order | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {COLUMNS} FROM orders WHERE id = ?", (order_id,)).fetchone()
        return Order(*row) if row else None

    def list(self, limit: int, offset: int) -> tuple[list[Order], int]:
        """Orders by id, one page of them, and how many there are in all."""
        with self._lock, self._transaction("DEFERRED") as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM orders ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
            (count,) = conn.execute("SELECT COUNT(*) FROM orders").fetchone()
        return [Order(*row) for row in rows], count

    def close(self) -> None:
        with self._lock:
            self._conn.close()
