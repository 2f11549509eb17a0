"""Gateway routing and config parsing: longest prefix, segment boundaries, rewrites,
and one-sentence errors for every config mistake."""

from __future__ import annotations

import pytest

from gateway.composition import product_id
from gateway.config import ConfigError, Route, load_config, parse_config
from gateway.routes import RouteTable

ROUTES = (
    Route("catalog", "/api/catalog", "catalog", "/products"),
    Route("special", "/api/catalog/special", "pricing", "/prices"),
    Route("orders", "/api/orders", "orders", "/orders"),
)


@pytest.mark.parametrize(
    "target,route,rewritten",
    [
        (b"/api/catalog", "catalog", b"/products"),
        (b"/api/catalog/3", "catalog", b"/products/3"),
        (b"/api/catalog/3?x=1", "catalog", b"/products/3?x=1"),
        (b"/api/catalog/special/9", "special", b"/prices/9"),  # longest prefix wins
        (b"/api/orders", "orders", b"/orders"),
    ],
)
def test_longest_prefix_wins_and_the_prefix_is_rewritten(target, route, rewritten):
    matched = RouteTable(ROUTES).match(target)
    assert matched is not None
    assert (matched[0].name, matched[1]) == (route, rewritten)


@pytest.mark.parametrize("target", [b"/api/catalogue", b"/api", b"/", b"/api/ordersx/1"])
def test_prefixes_match_on_segment_boundaries_only(target):
    assert RouteTable(ROUTES).match(target) is None


def test_product_page_path():
    assert product_id(b"/api/products/7") == "7"
    assert product_id(b"/api/products/") is None
    assert product_id(b"/api/products/7/x") is None
    assert product_id(b"/api/catalog/7") is None


def test_a_full_config_parses():
    cfg = parse_config(
        {
            "listen": "127.0.0.1:9000",
            "internal_listen": "127.0.0.1:9001",
            "control_plane": "http://127.0.0.1:8500/",
            "routes": [{"name": "catalog", "prefix": "/api/catalog/", "service": "catalog", "rewrite": "/products"}],
            "apimgmt": {"keys": {"k": {"routes": ["*"]}}, "rate_limit": {"rate_per_s": 5, "burst": 10}},
            "policies": {"*": {"retry": {"max_attempts": 2}}, "catalog": {"breaker": {"enabled": False}}},
        }
    )
    assert cfg.listen == ("127.0.0.1", 9000) and cfg.internal_listen == ("127.0.0.1", 9001)
    assert cfg.control_plane == "http://127.0.0.1:8500"
    assert cfg.routes[0].prefix == "/api/catalog"
    assert cfg.policies.get("catalog").breaker.enabled is False
    assert cfg.policies.get("catalog").retry.max_attempts == 2  # a service's policy sits on top of '*'


@pytest.mark.parametrize(
    "data,fragment",
    [
        ({"listen": "nowhere"}, "'listen': address 'nowhere' is invalid: expected 'host:port'"),
        ({"listen": "127.0.0.1:99999"}, "between 1 and 65535"),
        ({"routes": {}}, "'routes' must be a list"),
        ({"routes": [{"name": "a", "prefix": "/-/x", "service": "s"}]}, "admin paths"),
        (
            {"routes": [{"name": "a", "prefix": "/a", "service": "s"}, {"name": "a", "prefix": "/b", "service": "s"}]},
            "used twice",
        ),
        ({"routes": [{"name": "a", "prefix": "/a"}]}, "routes[0].service is required"),
        ({"routes": [{"name": "a", "prefix": "/a", "service": "s", "color": 1}]}, "unknown key"),
        ({"colour": 1}, "unknown key(s) ['colour']"),
        ({"control_plane": "ftp://x"}, "http:// URL"),
        ({"policies": {"*": {"breaker": {"bogus": 1}}}}, "policies:"),
        ({"apimgmt": {"rate_limit": {"rate_per_s": -1}}}, "apimgmt:"),
    ],
)
def test_config_mistakes_are_one_sentence_naming_the_key(data, fragment):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert fragment in str(err.value)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
