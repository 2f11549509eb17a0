"""catalog: the product catalog (atomic)."""
