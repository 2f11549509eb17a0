"""degraded composition — reviews-1 (the only reviews instance) is down (its proxy
refuses connections).

The product page still answers 200 with ``degraded: ["reviews"]``, both when the
gateway composes it (``/api/products/1``, at the edge) and when the storefront composes
it through its sidecar (``/api/storefront/1``, in the mesh). Control arm: the same
fault on a part the page cannot do without (every pricing instance down) gives 503
naming ``pricing`` — degradation is what turned the reviews outage into a 200.
"""

from __future__ import annotations

import pytest

from chaoslib import EDGE, MESH

PAGES = 5
PAGE_S = 1.0  # reviews down is a refused connection: fast

pytestmark = [pytest.mark.degradation]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]


def page(chaos, where):
    path = "/api/products/1" if where == EDGE else "/api/storefront/1"
    return chaos.request("GET", chaos.gateway + path, {"X-Api-Key": chaos.key})


@pytest.mark.parametrize("where", WHERE)
def test_page_degrades_without_reviews(chaos, where):
    chaos.faults.down("reviews-1")
    pages = [page(chaos, where) for _ in range(PAGES)]

    assert all(p.status == 200 for p in pages), pages
    assert all(p.body["degraded"] == ["reviews"] and p.body["reviews"] is None for p in pages), pages
    assert all(p.body["product"]["id"] == 1 and p.body["price"] is not None for p in pages), pages
    assert max(p.elapsed_s for p in pages) <= PAGE_S, pages
    if where == MESH:
        assert all(p.instance == "storefront-1" for p in pages), pages


@pytest.mark.parametrize("where", WHERE)
def test_control_a_critical_part_down_fails_the_page(chaos, where):
    chaos.faults.down("pricing-1")
    chaos.faults.down("pricing-2")
    pages = [page(chaos, where) for _ in range(PAGES)]

    assert all(p.status == 503 for p in pages), pages
    assert all("pricing" in p.body.get("missing", []) for p in pages), pages
