"""reviews: what customers said about a product (atomic)."""
