"""A shop's traffic through the gateway, weighted like a shop: mostly browsing and product
pages, now and then an order.

    locust -f loadtests/shop.py --headless -u 20 -r 20 -t 60s --host http://127.0.0.1:8080
    locust -f loadtests/shop.py,loadtests/shapes/spike.py --headless -u 40 -t 60s --host ...
    locust -f loadtests/shop.py --headless -u 2 -t 60s --arrival-rate 40 --host ...   # open loop

| action | request | weight |
|---|---|---|
| browse the catalog | ``GET /api/catalog`` | 3 |
| look at one product | ``GET /api/catalog/{id}`` | 2 |
| product page composed at the edge | ``GET /api/products/{id}`` (gateway: catalog+pricing+inventory+reviews) | 3 |
| product page composed in the mesh | ``GET /api/storefront/{id}`` (storefront, through its sidecar) | 3 |
| place an order | ``POST /api/orders`` with an ``Idempotency-Key`` | 1 |
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Locust only adds this folder

from loadtests.common import GatemeshUser  # noqa: E402


class ShopUser(GatemeshUser):
    actions = (("browse", 3), ("catalog_item", 2), ("page_at_edge", 3), ("page_in_mesh", 3), ("order", 1))
