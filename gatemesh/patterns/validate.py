"""Config validation shared by every pattern's config dataclass: a value outside its range
raises ``ConfigError`` (a ``ValueError``) whose message is one sentence naming the field as
``<pattern>.<field>`` and the allowed range.

Its own module, imported by each pattern directly, so the package's ``__init__`` can
re-export the patterns without a pattern importing the package that imports it.
"""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A config field holds a value outside its allowed range; ``field`` is ``pattern.field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_bool(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(field, f"{field} must be true or false, got {value!r}.")


def check_int(field: str, value: Any, lo: int, hi: int, what: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        unit = f" {what}" if what else ""
        raise ConfigError(field, f"{field} must be a whole number{unit} from {lo} to {hi}, got {value!r}.")


def check_number(field: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, what: str = "") -> float:
    """Check a finite number in [lo, hi] (or (lo, hi] when ``lo_open``); return it as a float."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value > lo if lo_open else value >= lo)
        and value <= hi
    )
    if not ok:
        low = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
        unit = f" of {what}" if what else ""
        raise ConfigError(field, f"{field} must be a number{unit} {low} and at most {hi:g}, got {value!r}.")
    return float(value)


def check_at_least(field: str, value: float, other: str, minimum: float, unit: str = "s") -> None:
    """A bound that must not be below another field's (a max below its base, say)."""
    if value < minimum:
        raise ConfigError(field, f"{field} must be at least {other} ({minimum:g} {unit}), got {value:g} {unit}.")


def set_float(obj: object, name: str, value: float) -> None:
    """Store a normalised value on a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)
