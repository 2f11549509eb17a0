"""storefront: the product page, composed from four services (composite)."""
