"""Product pages only, half composed at the edge and half in the mesh: the workload of
``gatemesh experiment``. Every page needs catalog and pricing (critical) and asks
inventory and reviews (optional), so a fault on any of them shows in the pages; which
half it shows in depends on where a pattern sits.

    locust -f loadtests/pages.py --headless -u 10 -r 10 -t 30s --host http://127.0.0.1:8080

| action | request | weight |
|---|---|---|
| product page composed at the edge | ``GET /api/products/{id}``: the gateway calls the four services | 1 |
| product page composed in the mesh | ``GET /api/storefront/{id}``: the storefront calls them through its sidecar | 1 |
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Locust only adds this folder

from loadtests.common import GatemeshUser  # noqa: E402


class PageUser(GatemeshUser):
    actions = (("page_at_edge", 1), ("page_in_mesh", 1))
