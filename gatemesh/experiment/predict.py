"""What the config predicts, beside what the experiment observed.

For each pattern-on arm, from the arm's own policy and the traffic its placement saw
during the fault (requests at that placement, the fault window, the Locust users), two
figures the pattern decides: **attempts per call** at that placement and **time to trip**
(the first breaker opening, ejection or budget refusal). The report shows both next to
the observed ones and says when they disagree — a disagreement is a lesson too (a breaker
that trips later than its count says, because the failing calls were slow; a budget that
allowed more than its ratio, because of its per-second floor).

The model is deliberately simple — one sentence per pattern in ``_MODELS`` — so an
attendee can redo it on paper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gatemesh.policy import Policy

from .designs import Design

TOLERANCE = 0.5  # relative: a prediction within ±50% agrees ...
ABS_CALLS = 0.15  # ... or within 0.15 attempts per call
ABS_TRIP_S = 0.75  # ... or within 0.75 s


@dataclass(frozen=True)
class Traffic:
    requests: float  # calls to the service at this placement during the fault
    window_s: float  # the fault's length
    users: int  # closed-loop users driving the pages (half reach each placement)
    instances: int  # instances of the faulty service
    proxies: int  # proxies at this placement that call it (gateway 1, storefront sidecars n)


Model = Callable[[Policy, Traffic], tuple[float | None, float | None, str]]


def _breaker(p: Policy, t: Traffic) -> tuple[float | None, float | None, str]:
    b, attempt_s = p.breaker, p.timeout.attempt_timeout_s if p.timeout.enabled else None
    k = b.consecutive_failures or max(1, min(b.minimum_calls, b.window_size))
    concurrent = max(1, t.users // 2 // t.proxies)
    trip = None if attempt_s is None else attempt_s * math.ceil(k / concurrent)
    # after the trip only half-open probes go out, one round per open_s (+ the probes' own timeout)
    rounds = max(0.0, t.window_s - (trip or 0.0)) / (b.open_s + (attempt_s or 0.0))
    attempts = t.proxies * (k + rounds * b.half_open_max_probes)
    why = (
        (
            f"opens after {k} failures, each a {attempt_s:g} s timeout with ~{concurrent} in flight; then "
            f"{b.half_open_max_probes} probes every {b.open_s:g} s"
        )
        if attempt_s
        else f"opens after {k} failures"
    )
    return _per_call(attempts, t), trip, why


def _budget(p: Policy, t: Traffic) -> tuple[float | None, float | None, str]:
    g, tries = p.budget, p.retry.max_attempts if p.retry.enabled else 1
    allowed = g.ratio * t.requests + g.min_retries_per_s * t.window_s * t.proxies
    retries = min(allowed, (tries - 1) * t.requests)
    return (
        _per_call(t.requests + retries, t),
        None,
        (f"retries at most {g.ratio:.0%} of requests + {g.min_retries_per_s:g}/s per proxy, {tries} tries at most"),
    )


def _outlier(p: Policy, t: Traffic) -> tuple[float | None, float | None, str]:
    per_proxy_rate = t.requests / t.window_s / t.proxies / t.instances if t.window_s else 0.0
    trip = p.outlier.consecutive_errors / per_proxy_rate if per_proxy_rate else None
    return (
        1.0,
        trip,
        (
            f"ejected after {p.outlier.consecutive_errors} errors in a row, at ~{per_proxy_rate:.1f} calls/s "
            f"to the bad instance per proxy; 500 is not retried"
        ),
    )


def _one_dead_retried(p: Policy, t: Traffic) -> tuple[float | None, float | None, str]:
    tries = p.retry.max_attempts if p.retry.enabled else 1
    extra = (1.0 / t.instances) if tries > 1 else 0.0
    return 1.0 + extra, None, f"1 of {t.instances} instances fails; each call to it retried once elsewhere"


def _no_retry(p: Policy, t: Traffic) -> tuple[float | None, float | None, str]:
    return 1.0, None, "no retries: one attempt per call"


# A stopping instance deregisters before it drains (the shell's shutdown order), and the
# registry's watch is a long poll answered when the change happens, so every proxy hears
# of it within a round trip: the reaction is immediate, not a TTL's or a poll's wait.
DISCOVERY_PUSH_S = 0.0


def _discovery(p: Policy, t: Traffic) -> tuple[float | None, float | None, str]:
    tries = p.retry.max_attempts if p.retry.enabled else 1
    return (
        1.0 if tries == 1 else None,
        DISCOVERY_PUSH_S,
        (
            "a stopping instance deregisters before it drains and the watch pushes the change, so every "
            "proxy drops it at once and no call goes to it"
        ),
    )


_MODELS: dict[str, Model] = {
    "breaker": _breaker,
    "budget": _budget,
    "outlier": _outlier,
    "retry": _one_dead_retried,
    "timeout": _one_dead_retried,
    "degradation": _no_retry,
    "discovery": _discovery,
}


def _per_call(attempts: float, t: Traffic) -> float | None:
    return min(attempts / t.requests, 10.0) if t.requests else None


def _agree(predicted: float | None, observed: float | None, absolute: float) -> bool | None:
    if predicted is None or observed is None:
        return None
    return abs(predicted - observed) <= max(absolute, TOLERANCE * abs(predicted))


def predict(design: Design, result: Mapping[str, Any], users: int, counts: Mapping[str, int]) -> dict[str, Any] | None:
    """The prediction for one pattern-on arm (None for a design without a model or an arm without a placement)."""
    model, location = _MODELS.get(design.name), result.get("location")
    everywhere = design.placements == ("both",)  # discovery: every proxy at once, no placement
    if model is None or (location not in ("edge", "mesh") and not everywhere):
        return None
    proxy = result.get("proxy") or {}
    own = proxy if everywhere else (proxy.get("by_location") or {}).get(location) or {}
    timeline = result.get("timeline") or {}
    traffic = Traffic(
        requests=float(own.get("requests") or 0.0),
        window_s=float(timeline.get("fault_off_s", 0.0) - timeline.get("fault_on_s", 0.0)),
        users=users,
        instances=max(1, int(counts.get(design.service, len(design.faulty)))),
        proxies=1 if location == "edge" else max(1, int(counts.get("storefront", 2))),
    )
    policy = Policy.from_dict(result["policy"]["mesh" if everywhere else location])
    calls, trip, why = model(policy, traffic)
    observed_calls, observed_trip = own.get("amplification"), result.get("time_to_trip_s")
    agree = [
        a for a in (_agree(calls, observed_calls, ABS_CALLS), _agree(trip, observed_trip, ABS_TRIP_S)) if a is not None
    ]
    return {
        "attempts_per_call": {"predicted": calls, "observed": observed_calls},
        "time_to_trip_s": {"predicted": trip, "observed": observed_trip},
        "model": why,
        "agree": all(agree) if agree else None,
        "sentence": _sentence(calls, observed_calls, trip, observed_trip, why, agree),
    }


def _sentence(
    calls: float | None,
    seen_calls: float | None,
    trip: float | None,
    seen_trip: float | None,
    why: str,
    agree: list[bool],
) -> str:
    def f(v: float | None, unit: str) -> str:
        return "n/a" if v is None else f"{v:.2f}{unit}"

    parts = [f"attempts per call predicted {f(calls, '')}, observed {f(seen_calls, '')}"]
    if trip is not None or seen_trip is not None:
        parts.append(f"time to trip predicted {f(trip, ' s')}, observed {f(seen_trip, ' s')}")
    verdict = "they agree" if agree and all(agree) else "they disagree" if agree else "nothing to compare"
    return f"The config predicts ({why}): " + "; ".join(parts) + f" — {verdict}."
