"""gatemesh.apimgmt: config parsing and the key / route / rate-limit verdicts, on a fake clock."""

import pytest

from gatemesh.apimgmt import (
    ALLOWED,
    ApiManager,
    ApiMgmtConfig,
    RateLimitConfig,
    Verdict,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


CONFIG = {
    "keys": {"demo-key": {"routes": ["*"]}, "catalog-only-key": {"routes": ["catalog"]}},
    "rate_limit": {"rate_per_s": 10, "burst": 3},
}


def manager(d=CONFIG):
    clock = FakeClock()
    return ApiManager(ApiMgmtConfig.from_dict(d), clock), clock


def test_from_dict_parses_keys_and_rate_limit_and_round_trips():
    cfg = ApiMgmtConfig.from_dict(CONFIG)
    assert cfg.enabled is True
    assert cfg.keys["catalog-only-key"].routes == frozenset({"catalog"})
    assert cfg.rate_limit == RateLimitConfig(rate_per_s=10.0, burst=3)
    assert ApiMgmtConfig.from_dict(cfg.to_dict()) == cfg


def test_from_dict_of_nothing_gives_defaults_with_no_keys():
    cfg = ApiMgmtConfig.from_dict({})
    assert cfg.enabled and not cfg.keys
    assert cfg.rate_limit == RateLimitConfig(True, 100.0, 200)


@pytest.mark.parametrize(
    "bad, words",
    [
        ([], "apimgmt must be an object"),
        ({"key": {}}, "unknown field(s) key"),
        ({"keys": {"k": {"routes": []}}}, "routes must be a non-empty list"),
        ({"keys": {"k": {"routes": "*"}}}, "routes must be a non-empty list"),
        ({"keys": {"k": {}}}, "routes must be a non-empty list"),
        ({"keys": {"k": "*"}}, "must be an object"),
        ({"keys": {"": {"routes": ["*"]}}}, "non-empty string"),
        ({"rate_limit": {"rate_per_s": 0}}, "rate_per_s must be a positive number"),
        ({"rate_limit": {"rate_per_s": "fast"}}, "rate_per_s must be a positive number"),
        ({"rate_limit": {"burst": 0}}, "burst must be a whole number"),
        ({"rate_limit": {"burst": 2.5}}, "burst must be a whole number"),
        ({"rate_limit": {"rps": 1}}, "unknown field(s) rps"),
        ({"enabled": "yes"}, "enabled must be true or false"),
    ],
)
def test_from_dict_rejects_bad_input_with_a_sentence(bad, words):
    with pytest.raises(ValueError) as err:
        ApiMgmtConfig.from_dict(bad)
    assert words in str(err.value)
    assert str(err.value).endswith(".")


def test_refusals_name_their_reason_and_status():
    api, _ = manager()
    assert api.check(None, "catalog") == Verdict(False, 401, "missing-api-key", None)
    assert api.check("", "catalog").reason == "missing-api-key"
    assert api.check("nope", "catalog") == Verdict(False, 401, "invalid-api-key", None)
    assert api.check("catalog-only-key", "orders") == Verdict(False, 403, "forbidden", None)


def test_allowed_requests_return_the_shared_allowed_verdict():
    api, _ = manager()
    assert api.check("demo-key", "orders") is ALLOWED
    assert api.check("catalog-only-key", "catalog") is ALLOWED


def test_bucket_allows_burst_then_429_with_retry_after():
    api, _ = manager()
    assert [api.check("demo-key", "x").allowed for _ in range(3)] == [True, True, True]
    refused = api.check("demo-key", "x")
    assert (refused.status, refused.reason) == (429, "rate-limited")
    assert refused.retry_after_s == pytest.approx(0.1)


def test_bucket_refills_lazily_from_the_clock_and_caps_at_burst():
    api, clock = manager()
    for _ in range(3):
        api.check("demo-key", "x")
    clock.now += 0.1  # one token at 10/s
    assert api.check("demo-key", "x").allowed
    assert not api.check("demo-key", "x").allowed
    clock.now += 3600  # a long idle refills only up to the burst
    assert sum(api.check("demo-key", "x").allowed for _ in range(10)) == 3


def test_each_key_has_its_own_bucket():
    api, _ = manager()
    for _ in range(4):
        api.check("demo-key", "catalog")
    assert not api.check("demo-key", "catalog").allowed
    assert api.check("catalog-only-key", "catalog").allowed


def test_disabled_rate_limit_still_checks_keys():
    api, _ = manager({"keys": {"k": {"routes": ["*"]}}, "rate_limit": {"enabled": False, "burst": 1}})
    assert all(api.check("k", "r").allowed for _ in range(50))
    assert api.check("other", "r").reason == "invalid-api-key"


def test_disabled_config_allows_everything():
    api, _ = manager({"enabled": False})
    assert api.check(None, "anything") is ALLOWED


def test_reconfigure_keeps_level_of_remaining_keys_and_adds_and_drops_keys():
    api, _ = manager()
    for _ in range(3):
        api.check("demo-key", "x")
    api.reconfigure(
        ApiMgmtConfig.from_dict(
            {
                "keys": {"demo-key": {"routes": ["*"]}, "new-key": {"routes": ["*"]}},
                "rate_limit": {"rate_per_s": 10, "burst": 3},
            }
        )
    )
    assert not api.check("demo-key", "x").allowed  # still drained: no free refill
    assert api.check("new-key", "x").allowed  # starts full
    assert api.check("catalog-only-key", "catalog").reason == "invalid-api-key"


def test_reconfigure_caps_tokens_at_the_new_burst():
    api, _ = manager()
    api.reconfigure(ApiMgmtConfig.from_dict({**CONFIG, "rate_limit": {"rate_per_s": 10, "burst": 1}}))
    assert api.check("demo-key", "x").allowed
    assert not api.check("demo-key", "x").allowed
