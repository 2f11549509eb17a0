"""Services, their default instance counts, and ``--scale catalog=5`` parsing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import TopologyError

#: Every sample service, in the order their instances get ports and start.
SERVICES = ("catalog", "pricing", "inventory", "reviews", "storefront", "orders")

#: Instance counts when nothing is overridden.
DEFAULT_COUNTS: Mapping[str, int] = {
    "catalog": 3,
    "pricing": 2,
    "inventory": 2,
    "reviews": 2,
    "storefront": 2,
    "orders": 2,
}

#: Upper bound for one service, to catch typos like catalog=500 early.
MAX_INSTANCES = 16


def resolve_counts(overrides: Mapping[str, int] | None = None) -> dict[str, int]:
    """Default counts updated with ``overrides``; every count validated."""
    counts = dict(DEFAULT_COUNTS)
    for service, n in (overrides or {}).items():
        check_count(service, n)
        counts[service] = n
    return counts


def check_count(service: str, n: object) -> None:
    if service not in SERVICES:
        raise TopologyError(f"unknown service {service!r}; the services are: {', '.join(SERVICES)}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_INSTANCES:
        raise TopologyError(f"instance count for {service} must be a whole number from 1 to {MAX_INSTANCES}, got {n!r}")


def parse_scale(specs: Iterable[str]) -> dict[str, int]:
    """``["catalog=5", "pricing=1"]`` → ``{"catalog": 5, "pricing": 1}``; a comma-separated
    item (``"catalog=5,pricing=1"``) works too. Raises ``TopologyError`` on a bad item."""
    counts: dict[str, int] = {}
    for spec in specs:
        for item in str(spec).split(","):
            item = item.strip()
            if not item:
                continue
            service, sep, value = item.partition("=")
            service, value = service.strip(), value.strip()
            if not sep or not service or not value:
                raise TopologyError(f"bad scale {item!r}: write SERVICE=COUNT, e.g. catalog=5")
            try:
                n = int(value)
            except ValueError:
                raise TopologyError(f"bad scale {item!r}: the count must be a whole number, e.g. catalog=5") from None
            check_count(service, n)
            counts[service] = n
    return counts
