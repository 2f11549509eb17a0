"""gatemesh.security.authz: the docs' example (only storefront and the gateway may call
pricing), default allow and default deny, and sentences for bad policies."""

import pytest

from gatemesh.security.authz import AuthzPolicy
from gatemesh.security.ca import spiffe_id

ONLY_STOREFRONT_AND_GATEWAY = {"rules": [{"to": "pricing", "from": ["storefront", "gateway"]}]}


def test_only_storefront_and_the_gateway_may_call_pricing():
    p = AuthzPolicy.from_dict(ONLY_STOREFRONT_AND_GATEWAY)
    assert p.decide(spiffe_id("storefront"), "pricing", "GET", "/prices/1") is None
    assert p.decide(spiffe_id("gateway"), "pricing", "GET", "/prices/1") is None
    denied = p.decide(spiffe_id("catalog"), "pricing", "GET", "/prices/1")
    assert denied is not None and spiffe_id("catalog") in denied
    assert "unauthenticated" in (p.decide(None, "pricing", "GET", "/prices/1") or "")
    assert p.decide(spiffe_id("catalog"), "reviews", "GET", "/reviews/1") is None  # default allow elsewhere


def test_default_deny_and_method_and_path_rules():
    p = AuthzPolicy.from_dict(
        {
            "default": "deny",
            "rules": [{"to": "orders", "from": ["gateway"], "methods": ["post"], "path_prefix": "/orders"}],
        }
    )
    assert p.decide(spiffe_id("gateway"), "orders", "POST", "/orders") is None
    assert p.decide(spiffe_id("gateway"), "orders", "DELETE", "/orders/1") is not None
    assert p.decide(spiffe_id("gateway"), "orders", "POST", "/ordersX") is not None
    assert p.decide(spiffe_id("gateway"), "catalog", "GET", "/products") is not None  # no rule: default deny


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        ({"default": "maybe"}, "allow or deny"),
        ({"rules": [{"to": "x"}]}, "from must be a list"),
        ({"rules": [{"to": "x", "from": ["a"], "path_prefix": "x"}]}, "start with '/'"),
        ({"rulez": []}, "unknown field"),
    ],
)
def test_bad_policies_are_one_sentence(doc, words):
    with pytest.raises(ValueError, match=words):
        AuthzPolicy.from_dict(doc)
