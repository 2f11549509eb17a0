"""pricing: the price of a product (atomic)."""
