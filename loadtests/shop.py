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

The demo key allows 500 requests/s with a burst of 1000 (``gatemesh/topology/apis.py``):
enough for 50 users at the shortest think time. A run that is refused anyway says so when
it ends: ``shop: this run was rate limited: N of M requests got 429 rate-limited ...``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Locust only adds this folder

from locust import events  # noqa: E402

from loadtests.common import GatemeshUser  # noqa: E402

_counts = {"requests": 0, "rate_limited": 0}


@events.request.add_listener
def _count_rate_limited(response=None, context=None, **_kw) -> None:
    _counts["requests"] += 1
    if "rate-limited" in str((context or {}).get("reason", "")) or getattr(response, "status_code", 0) == 429:
        _counts["rate_limited"] += 1


@events.quitting.add_listener
def _say_if_rate_limited(**_kw) -> None:
    n, total = _counts["rate_limited"], _counts["requests"]
    if n:
        print(
            f"shop: this run was rate limited: {n} of {total} requests got 429 rate-limited; the load "
            f"exceeded the API key's limit (use fewer users, or a key with a higher limit)",
            flush=True,
        )


class ShopUser(GatemeshUser):
    actions = (("browse", 3), ("catalog_item", 2), ("page_at_edge", 3), ("page_in_mesh", 3), ("order", 1))
