"""gatemesh.policy: the JSON form, the CLI setting form, tables, and error sentences."""

import json

import pytest

from gatemesh.policy import PATTERN_NAMES, Policy, PolicyError, PolicyTable, all_off, known_fields


def test_default_policy_has_every_pattern_with_its_defaults():
    p = Policy()
    assert [name for name in PATTERN_NAMES] == list(p.to_dict())
    assert p.retry.max_attempts == 3 and p.fallback.enabled is False


def test_to_dict_is_json_ready_and_round_trips():
    p = Policy().with_settings(
        "retry.retry_on_statuses=503,429",
        "breaker.slow_call_s=0.5",
        'fallback.default_body={"products": []}',
        "balancer.kind=least_request",
    )
    text = json.dumps(p.to_dict())
    assert Policy.from_dict(json.loads(text)) == p
    assert p.to_dict()["retry"]["retry_on_statuses"] == [429, 503]


def test_from_dict_applies_only_the_given_fields():
    p = Policy.from_dict({"breaker": {"enabled": False}, "timeout": {"attempt_timeout_s": 2}})
    assert p.breaker.enabled is False
    assert p.breaker.consecutive_failures == 5
    assert p.timeout.attempt_timeout_s == 2.0 and isinstance(p.timeout.attempt_timeout_s, float)
    assert p.retry == Policy().retry


def test_from_dict_accepts_lists_for_sets_and_strings_from_yaml():
    p = Policy.from_dict({"retry": {"retry_on_statuses": [503], "enabled": "off", "max_attempts": "4"}})
    assert p.retry.retry_on_statuses == frozenset({503})
    assert p.retry.enabled is False and p.retry.max_attempts == 4


def test_default_body_may_be_given_as_a_json_object():
    p = Policy.from_dict({"fallback": {"enabled": True, "default_status": 200, "default_body": {"items": []}}})
    assert json.loads(p.fallback.default_body) == {"items": []}


def test_unknown_field_error_names_it_and_lists_the_known_fields():
    with pytest.raises(PolicyError) as err:
        Policy.from_dict({"breaker": {"foo": 1}})
    message = str(err.value)
    assert message.startswith("unknown field 'breaker.foo'; known fields: breaker.enabled, ")
    assert "breaker.open_s" in message


def test_unknown_pattern_error_lists_the_patterns():
    with pytest.raises(PolicyError, match="unknown field 'circuit'; known fields: timeout, retry, budget"):
        Policy.from_dict({"circuit": {}})


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ({"breaker": {"window_size": 0}}, "breaker.window_size must be a whole number"),
        ({"breaker": {"enabled": 3}}, "breaker.enabled expects true or false"),
        ({"retry": {"max_attempts": 2.5}}, "retry.max_attempts expects a whole number"),
        ({"timeout": {"attempt_timeout_s": None}}, "timeout.attempt_timeout_s cannot be null"),
        ({"retry": {"retry_on_statuses": 503}}, "retry.retry_on_statuses expects a list"),
        # Values of the wrong type are refused here, where untyped input (JSON, YAML) enters:
        # a config class's annotations are its type check (mypy's; compiled, mypyc's TypeError,
        # which also takes True for 1), its __post_init__ checks ranges.
        ({"breaker": {"enabled": 1}}, "breaker.enabled expects true or false"),
        ({"timeout": {"enabled": "maybe"}}, "timeout.enabled expects true or false"),
        ({"concurrency": {"max_in_flight": 1.5}}, "concurrency.max_in_flight expects a whole number"),
        ({"concurrency": {"max_in_flight": True}}, "concurrency.max_in_flight expects a whole number"),
        ({"outlier": {"panic_threshold_percent": "half"}}, "outlier.panic_threshold_percent expects a number"),
        ({"outlier": {"panic_threshold_percent": True}}, "outlier.panic_threshold_percent expects a number"),
        ({"retry": {"retry_on_statuses": "5o3"}}, "retry.retry_on_statuses expects a list"),
        ({"retry": "fast"}, "retry must be a JSON object"),
    ],
)
def test_bad_values_raise_policy_errors_naming_the_field(doc, fragment):
    with pytest.raises(PolicyError) as err:
        Policy.from_dict(doc)
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_a_policy_must_be_an_object():
    with pytest.raises(PolicyError, match="must be a JSON object"):
        Policy.from_dict(["breaker"])


@pytest.mark.parametrize(
    "setting, attr, expected",
    [
        ("breaker.enabled=false", ("breaker", "enabled"), False),
        ("breaker.enabled=ON", ("breaker", "enabled"), True),
        ("outlier.enabled=no", ("outlier", "enabled"), False),
        ("retry.max_attempts=5", ("retry", "max_attempts"), 5),
        ("budget.ratio=0.5", ("budget", "ratio"), 0.5),
        ("timeout.attempt_timeout_s=250ms", ("timeout", "attempt_timeout_s"), 0.25),
        ("timeout.request_timeout_s=2s", ("timeout", "request_timeout_s"), 2.0),
        ("breaker.slow_call_s=null", ("breaker", "slow_call_s"), None),
        ("breaker.slow_call_s=1.5", ("breaker", "slow_call_s"), 1.5),
        ("retry.retry_on_statuses=502, 503", ("retry", "retry_on_statuses"), frozenset({502, 503})),
        ("retry.retry_on_statuses=", ("retry", "retry_on_statuses"), frozenset()),
        ("retry.retry_on_statuses=5xx", ("retry", "retry_on_statuses"), frozenset(range(500, 600))),
        ("fallback.default_status=none", ("fallback", "default_status"), None),
        ("balancer.kind=least_request", ("balancer", "kind"), "least_request"),
    ],
)
def test_with_setting_parses_the_value_by_the_fields_type(setting, attr, expected):
    dotted, _, value = setting.partition("=")
    p = Policy().with_setting(dotted, value)
    assert getattr(getattr(p, attr[0]), attr[1]) == expected


@pytest.mark.parametrize(
    "dotted, value, fragment",
    [
        ("breaker.enabled", "maybe", "breaker.enabled expects true or false, got 'maybe'"),
        ("retry.max_attempts", "three", "retry.max_attempts expects a whole number"),
        ("timeout.attempt_timeout_s", "fast", "timeout.attempt_timeout_s expects a number of seconds"),
        ("timeout.attempt_timeout_s", "null", "timeout.attempt_timeout_s expects a number of seconds"),
        ("timeout.attempt_timeout_s", "inf", "timeout.attempt_timeout_s expects a number"),
        ("retry.retry_on_statuses", "5o3", "retry.retry_on_statuses expects a list of status codes"),
        ("retry.max_attempts", "0", "retry.max_attempts must be a whole number of attempts from 1 to 100"),
        ("balancer.kind", "random", "balancer.kind must be one of"),
        ("breaker.foo", "1", "unknown field 'breaker.foo'; known fields:"),
        ("breakers.enabled", "false", "unknown field 'breakers.enabled'; known fields: timeout"),
    ],
)
def test_with_setting_errors_name_the_field(dotted, value, fragment):
    with pytest.raises(PolicyError) as err:
        Policy().with_setting(dotted, value)
    assert fragment in str(err.value)


def test_with_settings_needs_the_equals_sign():
    with pytest.raises(PolicyError, match="pattern.field=value"):
        Policy().with_settings("breaker.enabled")


def test_merged_applies_a_partial_document_on_top():
    base = Policy().with_setting("retry.max_attempts", "5")
    p = base.merged({"retry": {"enabled": False}})
    assert p.retry.max_attempts == 5 and p.retry.enabled is False
    assert base.merged({}) is base


def test_policies_are_values_comparable_for_change_detection():
    assert Policy() == Policy.from_dict({})
    assert Policy() != Policy().with_setting("breaker.open_s", "6")


def test_all_off_disables_every_pattern_but_keeps_a_balancer():
    off = all_off()
    for name in PATTERN_NAMES:
        section = getattr(off, name)
        if name == "balancer":
            assert section.kind == "round_robin"
        else:
            assert section.enabled is False, name


def test_known_fields_lists_dotted_names():
    assert "breaker.half_open_max_probes" in known_fields()
    assert known_fields("balancer") == ["balancer.kind"]


def test_table_gives_the_star_policy_to_unnamed_services():
    table = PolicyTable.from_dict({"*": {"retry": {"enabled": False}}, "orders": {"timeout": {"attempt_timeout_s": 3}}})
    assert table.get("catalog").retry.enabled is False
    orders = table.get("orders")
    assert orders.retry.enabled is False  # inherited from "*"
    assert orders.timeout.attempt_timeout_s == 3.0
    assert table.services() == ["orders"] and "orders" in table and "catalog" not in table


def test_table_round_trips_through_its_dict():
    table = PolicyTable.from_dict({"*": {"breaker": {"open_s": 9}}, "catalog": {"retry": {"max_attempts": 2}}})
    again = PolicyTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again == table
    assert again.get("catalog").breaker.open_s == 9.0


def test_table_set_replaces_one_service_or_the_default():
    table = PolicyTable()
    table.set("catalog", all_off())
    assert table.get("catalog") == all_off() and table.get("pricing") == Policy()
    table.set("*", all_off())
    assert table.get("pricing") == all_off()
    table.remove("catalog")
    assert table.services() == []
    copy = table.copy()
    copy.set("x", Policy())
    assert "x" not in table


def test_table_errors_say_which_service():
    with pytest.raises(PolicyError, match="In the policy for 'orders': unknown field 'retry.tries'"):
        PolicyTable.from_dict({"orders": {"retry": {"tries": 2}}})
    with pytest.raises(PolicyError, match="keyed by service name"):
        PolicyTable.from_dict([])
