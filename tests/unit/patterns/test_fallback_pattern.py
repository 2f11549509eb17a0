"""gatemesh.patterns.fallback: the last-good cache (age, size, LRU) and default answers."""

import pytest

from gatemesh.clock import FakeClock
from gatemesh.patterns.fallback import FallbackConfig, LastGoodCache, default_response

KEY = (b"GET", b"/products/1")
HEADERS = [(b"content-type", b"application/json")]


def make(max_entries=1024, max_body_bytes=64 * 1024, **kwargs):
    clock = FakeClock()
    cfg = FallbackConfig(**{"enabled": True, **kwargs})
    return LastGoodCache(cfg, clock, max_entries=max_entries, max_body_bytes=max_body_bytes), clock


def test_fallback_is_off_by_default():
    assert FallbackConfig().enabled is False
    cache = LastGoodCache(FallbackConfig(), FakeClock())
    assert not cache.store(KEY, 200, HEADERS, b"{}")
    assert cache.choose(KEY) is None


def test_stores_and_returns_the_last_good_get_response():
    cache, clock = make()
    clock.advance(3)
    assert cache.store(KEY, 200, HEADERS, b'{"id": 1}')
    hit = cache.lookup(KEY)
    assert (hit.status, hit.headers, hit.body, hit.stored_at) == (200, tuple(HEADERS), b'{"id": 1}', 3.0)


def test_only_successful_get_responses_are_kept():
    cache, _ = make()
    assert not cache.store((b"POST", b"/orders"), 201, HEADERS, b"{}")
    assert not cache.store(KEY, 503, HEADERS, b"{}")
    assert not cache.store(KEY, 404, HEADERS, b"{}")
    assert len(cache) == 0
    assert cache.store(("GET", "/x"), 204, [], b"")  # str keys work too


def test_entries_older_than_max_age_are_not_served():
    cache, clock = make(max_age_s=60)
    cache.store(KEY, 200, HEADERS, b"{}")
    clock.advance(60)
    assert cache.lookup(KEY) is not None
    clock.advance(0.001)
    assert cache.lookup(KEY) is None
    assert len(cache) == 0


def test_bodies_over_the_size_cap_are_not_kept():
    cache, _ = make(max_body_bytes=10)
    assert cache.store(KEY, 200, HEADERS, b"x" * 10)
    assert not cache.store((b"GET", b"/big"), 200, HEADERS, b"x" * 11)


def test_least_recently_used_entry_is_evicted_at_the_entry_cap():
    cache, _ = make(max_entries=2)
    a, b, c = ((b"GET", p) for p in (b"/a", b"/b", b"/c"))
    cache.store(a, 200, [], b"a")
    cache.store(b, 200, [], b"b")
    cache.lookup(a)  # a is now the most recently used
    cache.store(c, 200, [], b"c")
    assert cache.lookup(b) is None
    assert cache.lookup(a).body == b"a" and cache.lookup(c).body == b"c"


def test_choose_prefers_the_last_good_answer_then_the_default():
    cache, _ = make(default_status=200, default_body='{"products": []}')
    fallback = cache.choose(KEY)
    assert fallback.status == 200 and fallback.body == b'{"products": []}'
    assert (b"content-type", b"application/json") in fallback.headers
    cache.store(KEY, 200, HEADERS, b'{"id": 1}')
    assert cache.choose(KEY).body == b'{"id": 1}'


def test_choose_without_a_default_lets_the_error_through():
    cache, _ = make()
    assert cache.choose(KEY) is None


def test_default_body_without_a_status_is_sent_as_200():
    assert default_response(FallbackConfig(default_body="{}")).status == 200
    assert default_response(FallbackConfig()) is None


def test_turning_fallback_off_empties_the_cache():
    cache, _ = make()
    cache.store(KEY, 200, HEADERS, b"{}")
    cache.reconfigure(FallbackConfig(enabled=False))
    assert len(cache) == 0 and cache.choose(KEY) is None


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"max_age_s": 0}, "fallback.max_age_s"),
        ({"default_status": 99}, "fallback.default_status"),
        ({"default_status": 700}, "fallback.default_status"),
        ({"default_body": "{not json"}, "fallback.default_body"),
    ],
)
def test_fallback_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        FallbackConfig(**kwargs)
