"""inventory: how many of a product are in stock (atomic)."""
