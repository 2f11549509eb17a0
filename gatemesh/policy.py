"""A resilience policy: one config per pattern, for one service at one location.

JSON shape (every pattern and every field optional; what is left out keeps its default)::

    {"timeout": {"enabled": true, "attempt_timeout_s": 1.0, "request_timeout_s": 5.0},
     "retry": {"max_attempts": 3, "retry_on_statuses": [502, 503, 504], ...},
     "budget": {...}, "breaker": {...}, "concurrency": {...},
     "balancer": {"kind": "round_robin"}, "outlier": {...}, "fallback": {...}}

``PolicyTable`` holds one policy per service plus ``"*"``, the default for every service
not named. In ``PolicyTable.from_dict`` a service's entry is applied *on top of* ``"*"``,
so ``{"*": {"retry": {"enabled": false}}, "orders": {"timeout": {"attempt_timeout_s": 3}}}``
gives orders no retries and a 3 s attempt timeout.

The CLI form is ``pattern.field=value`` (``Policy.with_setting``), the value parsed by the
field's type: booleans ``true/false/on/off/yes/no``, numbers (``250ms`` or ``2s`` for
fields in seconds), ``null``, and comma lists for sets (``502,503`` or ``5xx``).
Every mistake raises ``PolicyError`` with a sentence naming ``pattern.field``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gatemesh.patterns.balancer import BalancerConfig
from gatemesh.patterns.breaker import BreakerConfig
from gatemesh.patterns.budget import RetryBudgetConfig
from gatemesh.patterns.concurrency import ConcurrencyConfig
from gatemesh.patterns.deadline import TimeoutConfig
from gatemesh.patterns.fallback import FallbackConfig
from gatemesh.patterns.healthcheck import HealthCheckConfig
from gatemesh.patterns.outlier import OutlierConfig
from gatemesh.patterns.retry import RetryConfig

DEFAULT_SERVICE = "*"


class PolicyError(ValueError):
    """A policy document or setting is not valid; the message is a sentence naming the field."""


@dataclass(frozen=True, slots=True)
class Policy:
    timeout: TimeoutConfig = field(default_factory=TimeoutConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    budget: RetryBudgetConfig = field(default_factory=RetryBudgetConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    concurrency: ConcurrencyConfig = field(default_factory=ConcurrencyConfig)
    balancer: BalancerConfig = field(default_factory=BalancerConfig)
    outlier: OutlierConfig = field(default_factory=OutlierConfig)
    health_check: HealthCheckConfig = field(default_factory=HealthCheckConfig)
    fallback: FallbackConfig = field(default_factory=FallbackConfig)

    @classmethod
    def from_dict(cls, data: Mapping) -> Policy:
        """A policy from its JSON form; patterns and fields left out keep their defaults."""
        return _DEFAULT.merged(data)

    def to_dict(self) -> dict:
        """The JSON-ready form: every pattern, every field (sets as sorted lists)."""
        return {name: _section_to_dict(getattr(self, name)) for name in PATTERN_NAMES}

    def merged(self, overrides: Mapping) -> Policy:
        """This policy with a partial JSON document applied on top."""
        if not isinstance(overrides, Mapping):
            raise PolicyError(
                f"A policy must be a JSON object keyed by pattern ({', '.join(PATTERN_NAMES)}), got {overrides!r}."
            )
        changes: dict[str, Any] = {}
        for name, section in overrides.items():
            if name not in _CONFIG_CLASSES:
                raise PolicyError(f"unknown field {name!r}; known fields: {', '.join(PATTERN_NAMES)}.")
            if not isinstance(section, Mapping):
                raise PolicyError(f"{name} must be a JSON object of {name} settings, got {section!r}.")
            changes[name] = _merge_section(name, getattr(self, name), section)
        return dataclasses.replace(self, **changes) if changes else self

    def with_setting(self, dotted: str, value: str) -> Policy:
        """This policy with one ``pattern.field`` set from its text form (the CLI's ``k=v``)."""
        name, _, field_name = dotted.strip().partition(".")
        kinds = _FIELD_KINDS.get(name)
        if kinds is None:
            raise PolicyError(
                f"unknown field {dotted!r}; known fields: {', '.join(PATTERN_NAMES)} "
                f"(write pattern.field, e.g. breaker.enabled)."
            )
        if field_name not in kinds:
            raise PolicyError(_unknown_field(name, field_name))
        parsed = _parse_text(f"{name}.{field_name}", kinds[field_name], value)
        return self.merged({name: {field_name: parsed}})

    def with_settings(self, *assignments: str) -> Policy:
        """Apply ``pattern.field=value`` strings in order."""
        policy = self
        for assignment in assignments:
            dotted, eq, value = assignment.partition("=")
            if not eq:
                raise PolicyError(f"A setting must look like pattern.field=value, got {assignment!r}.")
            policy = policy.with_setting(dotted, value)
        return policy


_DEFAULT = Policy()
# The registry of patterns is the Policy dataclass itself: one field per pattern, in the
# order the JSON form lists them, each defaulting to its config class.
_CONFIG_CLASSES: dict[str, type] = {f.name: type(getattr(_DEFAULT, f.name)) for f in dataclasses.fields(Policy)}
PATTERN_NAMES: tuple[str, ...] = tuple(_CONFIG_CLASSES)


def all_off() -> Policy:
    """Every pattern switched off (one without an ``enabled`` switch, the balancer, keeps
    its default: round robin still picks). For control arms."""
    return Policy(
        **{
            name: (cls(enabled=False) if "enabled" in {f.name for f in dataclasses.fields(cls)} else cls())
            for name, cls in _CONFIG_CLASSES.items()
        }
    )


class PolicyTable:
    """Policies per service, with ``"*"`` as the policy of every service not named."""

    __slots__ = ("_default", "_policies")

    def __init__(self, policies: Mapping[str, Policy] | None = None, default: Policy | None = None) -> None:
        self._default = default if default is not None else _DEFAULT
        self._policies: dict[str, Policy] = {}
        for service, policy in (policies or {}).items():
            self.set(service, policy)

    def get(self, service: str) -> Policy:
        return self._policies.get(service, self._default)

    def set(self, service: str, policy: Policy) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"PolicyTable.set needs a Policy, got {type(policy).__name__}.")
        if service == DEFAULT_SERVICE:
            self._default = policy
        else:
            self._policies[service] = policy

    def remove(self, service: str) -> None:
        """Forget a service's own policy (it falls back to ``"*"``)."""
        self._policies.pop(service, None)

    @property
    def default(self) -> Policy:
        return self._default

    def services(self) -> list[str]:
        """Services with a policy of their own (not counting ``"*"``)."""
        return sorted(self._policies)

    def __contains__(self, service: object) -> bool:
        return service in self._policies

    def __iter__(self) -> Iterator[str]:
        return iter(self.services())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolicyTable):
            return NotImplemented
        return self._default == other._default and self._policies == other._policies

    def copy(self) -> PolicyTable:
        return PolicyTable(self._policies, self._default)

    def to_dict(self) -> dict:
        out = {DEFAULT_SERVICE: self._default.to_dict()}
        for service in sorted(self._policies):
            out[service] = self._policies[service].to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> PolicyTable:
        """``{"*": {...}, "<service>": {...}}``; each service's entry goes on top of ``"*"``."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"A policy table must be a JSON object keyed by service name, got {data!r}.")
        default = Policy.from_dict(data.get(DEFAULT_SERVICE) or {})
        table = cls(default=default)
        for service, section in data.items():
            if service == DEFAULT_SERVICE:
                continue
            if not isinstance(service, str) or not service:
                raise PolicyError(f"A policy table's keys must be service names, got {service!r}.")
            try:
                table.set(service, default.merged(section or {}))
            except PolicyError as exc:
                raise PolicyError(f"In the policy for {service!r}: {exc}") from None
        return table

    def __repr__(self) -> str:
        return f"PolicyTable(services={self.services()!r})"


# --- field types, parsing and coercion ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Kind:
    base: type  # bool, int, float, str or frozenset
    optional: bool


# The nullable fields, with what each holds when set. A compiled (mypyc) config class keeps
# only each field's runtime class in its annotations, and a union (`float | None`) becomes
# `type`, so these cannot be read from the class; pure Python checks the table against the
# annotations at import, and a nullable field missing from it fails there.
_NULLABLE: dict[tuple[str, str], type] = {
    ("breaker", "slow_call_s"): float,
    ("fallback", "default_status"): int,
    ("fallback", "default_body"): str,
}
_BASES = (bool, int, float, str)


def _kind_of(pattern: str, name: str, annotation: Any) -> _Kind:
    nullable = _NULLABLE.get((pattern, name))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):  # pure Python only
        held = {a for a in typing.get_args(annotation) if a is not type(None)}
        if nullable is None or held != {nullable}:
            raise TypeError(
                f"{pattern}.{name} is annotated {annotation}: list it in policy._NULLABLE as what it holds."
            )
    if nullable is not None:
        return _Kind(nullable, True)
    if annotation is frozenset or typing.get_origin(annotation) is frozenset:
        return _Kind(frozenset, False)
    if annotation not in _BASES:
        raise TypeError(f"{pattern}.{name} is annotated {annotation}, not a type a policy can parse.")
    return _Kind(annotation, False)


_FIELD_KINDS: dict[str, dict[str, _Kind]] = {
    name: {f.name: _kind_of(name, f.name, typing.get_type_hints(cls)[f.name]) for f in dataclasses.fields(cls)}
    for name, cls in _CONFIG_CLASSES.items()
}


def known_fields(pattern: str | None = None) -> list[str]:
    """``pattern.field`` names (of one pattern, or of all), for help texts and completion."""
    names = [pattern] if pattern is not None else list(PATTERN_NAMES)
    return [f"{n}.{f}" for n in names for f in _FIELD_KINDS[n]]


def _unknown_field(name: str, field_name: str) -> str:
    return f"unknown field '{name}.{field_name}'; known fields: {', '.join(known_fields(name))}."


def _section_to_dict(config: Any) -> dict:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = sorted(value) if isinstance(value, frozenset) else value
    return out


def _merge_section(name: str, current: Any, section: Mapping) -> Any:
    kinds = _FIELD_KINDS[name]
    values = {}
    for key, raw in section.items():
        if key not in kinds:
            raise PolicyError(_unknown_field(name, str(key)))
        values[key] = _coerce(f"{name}.{key}", kinds[key], raw)
    if not values:
        return current
    try:
        return dataclasses.replace(current, **values)
    except ValueError as exc:  # the config's own validation: already a sentence naming the field
        raise PolicyError(str(exc)) from None


_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})
_NULL = frozenset({"null", "none", ""})


def _coerce(dotted: str, kind: _Kind, raw: Any) -> Any:
    """A JSON/YAML value to the field's Python type (strings are parsed as CLI text)."""
    base = kind.base
    if raw is None:
        if kind.optional:
            return None
        raise PolicyError(f"{dotted} cannot be null; {_expects(dotted, kind)}.")
    if isinstance(raw, str) and base is not str:
        return _parse_text(dotted, kind, raw)
    if base is bool:
        if isinstance(raw, bool):
            return raw
    elif base is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
    elif base is float:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
    elif base is frozenset:
        if isinstance(raw, (list, tuple, set, frozenset)):
            return frozenset(_coerce(dotted, _Kind(int, False), item) for item in raw)
    elif base is str:
        if isinstance(raw, str):
            return raw
        if dotted == "fallback.default_body":  # a JSON object given inline in YAML/JSON
            return json.dumps(raw, separators=(",", ":"))
    raise PolicyError(f"{dotted} {_expects(dotted, kind)}, got {raw!r}.")


def _expects(dotted: str, kind: _Kind) -> str:
    base = kind.base
    what = {
        bool: "expects true or false",
        int: "expects a whole number",
        float: "expects a number" + (" of seconds (e.g. 2.5, 250ms, 2s)" if dotted.endswith("_s") else ""),
        frozenset: "expects a list of status codes (e.g. 502,503 or 5xx)",
        str: "expects text",
    }[base]
    return what + (" or null" if kind.optional else "")


def _parse_text(dotted: str, kind: _Kind, text: str) -> Any:
    """A CLI value (``pattern.field=value``) to the field's Python type."""
    base = kind.base
    word = text.strip()
    lower = word.lower()
    if kind.optional and lower in _NULL:
        return None
    try:
        if base is bool:
            if lower in _TRUE:
                return True
            if lower in _FALSE:
                return False
        elif base is int:
            return int(word)
        elif base is float:
            if dotted.endswith("_s") and lower.endswith("ms"):
                value = float(lower[:-2]) / 1000.0
            elif dotted.endswith("_s") and lower.endswith("s"):
                value = float(lower[:-1])
            else:
                value = float(lower)
            if math.isfinite(value):
                return value
        elif base is frozenset:
            codes: set[int] = set()
            for part in lower.split(","):
                part = part.strip()
                if not part:
                    continue
                if len(part) == 3 and part.endswith("xx") and part[0].isdigit():
                    first = int(part[0]) * 100
                    codes.update(range(first, first + 100))
                else:
                    codes.add(int(part))
            return frozenset(codes)
        elif base is str:
            return word
    except ValueError:
        pass
    raise PolicyError(f"{dotted} {_expects(dotted, kind)}, got {text!r}.")
