"""The command line's fault form: ``INSTANCE:KIND[=VALUE][,key=value...]``.

    catalog-1:latency=1000,jitter=100,for=20   1000 ± 100 ms for 20 s
    pricing-1:error=0.5,status=500             half the calls answer 500
    orders-2:reset_peer   catalog-3:kill   reviews-1:timeout

Durations are seconds (``for``); latencies milliseconds, as `gatemesh fault add` takes them.
"""

from __future__ import annotations

from .model import Fault, LintError

_KEYS = {"jitter": "jitter_ms", "for": "duration_s", "status": "error_status"}


def parse_fault(text: str) -> Fault:
    instance, colon, rest = text.partition(":")
    if not colon or not rest:
        raise LintError(f"a fault looks like catalog-1:latency=1000 or pricing-1:error=0.5, got {text!r}")
    head, *options = rest.split(",")
    kind, eq, value = head.partition("=")
    fields: dict[str, float | int | str] = {"instance": instance, "kind": kind}
    try:
        if eq:
            if kind == "latency":
                fields["latency_ms"] = float(value)
            elif kind == "error":
                fields["error_rate"] = float(value)
            else:
                raise LintError(f"{kind} takes no value (got {head!r})")
        for option in options:
            key, eq, value = option.partition("=")
            if key not in _KEYS or not eq:
                raise LintError(f"unknown fault option {option!r}; the options are jitter=MS, for=S, status=CODE")
            fields[_KEYS[key]] = int(value) if key == "status" else float(value)
    except ValueError as exc:
        if isinstance(exc, LintError):
            raise
        raise LintError(f"{text!r}: a value is not a number") from None
    return Fault(**fields)  # type: ignore[arg-type]
