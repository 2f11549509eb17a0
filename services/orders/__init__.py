"""orders: the write path, deduplicated by Idempotency-Key."""
