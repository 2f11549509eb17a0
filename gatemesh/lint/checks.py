"""The traps, one function each: why a breaker, an outlier detector or a retry will not do
what a newcomer expects with *this* policy, topology, traffic and fault. Each check
yields `Finding`s whose message carries the numbers and whose fix names the setting.

With the default policies and no fault, every check is quiet: a trap needs a fault to
spring (the lint of a lab is the lint of its fault), except those that are wrong for any
traffic (an attempt timeout at the request timeout, tries multiplying with no budget).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from .effects import callers, failing_faults, fails, retried
from .model import EDGE, FAST_FAILURES, MESH, Finding, Setup

Check = Callable[[Setup], Iterator[Finding]]


def ejection_cap(setup: Setup) -> Iterator[Finding]:
    for service in sorted({f.service for f in setup.faults}):
        n = setup.counts.get(service, 1)
        for placement, policy in callers(setup, service):
            failing = {f.instance for f in failing_faults(setup, service, policy)}
            o = policy.outlier
            if not o.enabled or n < 2 or not failing:
                continue
            allowed = min(max(int(n * o.max_ejection_percent / 100.0), 1), n - 1)
            if len(failing) > allowed:
                need = math.ceil(100.0 * (n - 1) / n) if len(failing) >= n else math.ceil(100.0 * len(failing) / n)
                yield Finding(
                    "ejection-cap",
                    placement,
                    service,
                    f"{len(failing)} of {n} {service} instances will fail, but max_ejection_percent="
                    f"{o.max_ejection_percent:g} lets outlier detection eject at most {allowed} "
                    f"(never the last one): {len(failing) - allowed} failing instance(s) keep getting traffic.",
                    f"gatemesh policy set {service} --at {placement} outlier.max_ejection_percent={need}"
                    + (
                        " (all instances fail: no ejection can help; the breaker or a fallback must)"
                        if len(failing) >= n
                        else ""
                    ),
                )


def breaker_sees(setup: Setup) -> Iterator[Finding]:
    for service in sorted({f.service for f in setup.faults}):
        n = setup.counts.get(service, 1)
        for placement, policy in callers(setup, service):
            b = policy.breaker
            if not b.enabled:
                continue
            for fault in setup.faulty(service):
                if fault.kind == "latency" and not fails(fault, policy) and b.slow_call_s is None:
                    yield Finding(
                        "breaker-blind-to-slow",
                        placement,
                        service,
                        f"{fault.instance}'s {fault.latency_ms:g} ms latency stays under the "
                        f"{policy.timeout.attempt_timeout_s * 1000:g} ms attempt timeout"
                        + ("" if policy.timeout.enabled else " (timeouts are off)")
                        + ", so no call fails and breaker.slow_call_s is off: the breaker will not open.",
                        f"gatemesh policy set {service} --at {placement} breaker.slow_call_s="
                        f"{max(fault.latency_ms / 2, 10):g}ms (or a latency above the attempt timeout)",
                    )
                    continue
                if not fails(fault, policy) or b.consecutive_failures > 0 and fault.error_rate >= 1.0:
                    continue  # every call fails: the consecutive count trips it
                calls = setup.rate_at(placement, service) / n * fault.duration_s
                needed = min(b.minimum_calls, b.window_size)
                if calls < needed:
                    yield Finding(
                        "breaker-min-calls",
                        placement,
                        service,
                        f"{fault.instance} will see about {calls:.0f} calls from the {placement} in the "
                        f"{fault.duration_s:g} s fault ({setup.traffic.rate_per_s:g} pages/s over {n} "
                        f"instances), fewer than breaker.minimum_calls={needed}: the failure rate never "
                        f"counts"
                        + (
                            ", and consecutive_failures is off"
                            if b.consecutive_failures == 0
                            else f", and at error rate {fault.error_rate:g} {b.consecutive_failures} "
                            f"failures in a row are unlikely"
                        )
                        + ".",
                        f"gatemesh policy set {service} --at {placement} breaker.minimum_calls="
                        f"{max(1, int(calls // 2))} (or send more traffic, or a longer fault)",
                    )


def retries_hide_errors(setup: Setup) -> Iterator[Finding]:
    for service in sorted({f.service for f in setup.faults}):
        n = setup.counts.get(service, 1)
        for placement, policy in callers(setup, service):
            faults = failing_faults(setup, service, policy)
            failing = {f.instance for f in faults}
            if not faults or len(failing) >= n or not policy.breaker.enabled:
                continue
            if all(retried(f, policy) for f in faults) and policy.retry.max_attempts > len(failing):
                yield Finding(
                    "retries-hide-errors",
                    placement,
                    service,
                    f"{len(failing)} of {n} {service} instances fail, and every failed try is retried on "
                    f"another instance ({policy.retry.max_attempts} tries): almost every request succeeds, "
                    f"so the *service* breaker at the {placement} will not open. The instance breaker and "
                    f"outlier detection see each try and act on {', '.join(sorted(failing))}.",
                    f"watch the instance breaker (gatemesh status), or gatemesh policy set {service} --at "
                    f"{placement} retry.enabled=false to see the service breaker open",
                )
    if setup.topology == "edge-mesh":
        inner = [f.service for f in setup.faults]
        outer = setup.policy(EDGE, "storefront")
        for service in sorted(set(inner)):
            mesh = setup.policy(MESH, service)
            if outer is None or mesh is None or not outer.breaker.enabled:
                continue
            if any(retried(f, mesh) for f in setup.faulty(service)):
                yield Finding(
                    "retries-hide-errors",
                    "path",
                    service,
                    f"storefront's sidecar retries {service} before the gateway sees an answer: the "
                    f"gateway's breaker for storefront sees only what the mesh could not save.",
                    f"gatemesh policy set {service} --at mesh retry.enabled=false to let the edge see the failures",
                )


def tries_multiply(setup: Setup) -> Iterator[Finding]:
    seen: set[tuple[str, ...]] = set()
    for _, hops in setup.paths():
        if len(hops) < 2:
            continue
        tries, unbudgeted = 1, []
        for hop in hops:
            p = setup.policy(hop.placement, hop.service)
            if p is None or not p.retry.enabled:
                continue
            tries *= p.retry.max_attempts
            if not p.budget.enabled:
                unbudgeted.append(f"{hop.placement} {hop.service}")
        key = tuple(f"{h.placement}:{h.service}" for h in hops)
        if tries > 3 and unbudgeted and key not in seen:
            seen.add(key)
            chain = " × ".join(f"{h.placement} {h.service}" for h in hops)
            yield Finding(
                "tries-multiply",
                "path",
                hops[-1].service,
                f"along {chain} tries multiply: one page can reach {hops[-1].service} up to {tries} times, "
                f"and {', '.join(unbudgeted)} retry without a budget, so a brown-out becomes a retry storm.",
                f"gatemesh policy set {unbudgeted[0].split()[1]} --at {unbudgeted[0].split()[0]} budget.enabled=true "
                f"(or retry at one hop only)",
            )


def timeouts(setup: Setup) -> Iterator[Finding]:
    for placement in setup.placements():
        table = setup.policies[placement]
        # one finding per distinct policy: services that only inherit "*" are named "*"
        own = {s: table.get(s) for s in sorted(setup.counts) if table.get(s) != table.default}
        for service, policy in [("*", table.default), *own.items()]:
            t = policy.timeout
            if (
                t.enabled
                and policy.retry.enabled
                and policy.retry.max_attempts > 1
                and t.attempt_timeout_s >= t.request_timeout_s
            ):
                yield Finding(
                    "attempt-timeout",
                    placement,
                    service,
                    f"the attempt timeout ({t.attempt_timeout_s:g} s) is not below the request timeout "
                    f"({t.request_timeout_s:g} s): a try that times out leaves no time for a retry.",
                    f"gatemesh policy set '{service}' --at {placement} timeout.attempt_timeout_s="
                    f"{int(1000 * t.request_timeout_s / max(policy.retry.max_attempts, 2))}ms",
                )
    if setup.topology != "edge-mesh":
        return
    outer = setup.policy(EDGE, "storefront")
    for service in sorted({f.service for f in setup.faults}):
        inner = setup.policy(MESH, service)
        if outer is None or inner is None or not outer.timeout.enabled or not inner.timeout.enabled:
            continue
        if (
            any(retried(f, inner) and f.kind not in FAST_FAILURES for f in setup.faulty(service))
            and inner.timeout.attempt_timeout_s >= outer.timeout.attempt_timeout_s
        ):
            yield Finding(
                "attempt-timeout",
                "path",
                service,
                f"the mesh retries {service} only after its {inner.timeout.attempt_timeout_s:g} s attempt "
                f"timeout, but the gateway gives each storefront try {outer.timeout.attempt_timeout_s:g} s: "
                f"the edge times out first and retries the whole page, so the mesh's retry never counts.",
                f"gatemesh policy set {service} --at mesh timeout.attempt_timeout_s="
                f"{int(1000 * outer.timeout.attempt_timeout_s / 3)}ms",
            )


def latency_at_timeout(setup: Setup) -> Iterator[Finding]:
    for fault in setup.faults:
        if fault.kind != "latency":
            continue
        for placement, policy in callers(setup, fault.service):
            t_ms = policy.timeout.attempt_timeout_s * 1000.0
            if policy.timeout.enabled and abs(fault.latency_ms - t_ms) <= max(fault.jitter_ms, 0.1 * t_ms):
                yield Finding(
                    "latency-at-timeout",
                    placement,
                    fault.service,
                    f"{fault.instance}'s latency ({fault.latency_ms:g} ± {fault.jitter_ms:g} ms) is within "
                    f"{max(fault.jitter_ms, 0.1 * t_ms):g} ms of the {t_ms:g} ms attempt timeout: whether a "
                    f"call times out is a coin toss (the app's own time decides).",
                    f"use a latency well above ({2 * t_ms:g} ms) or below ({t_ms / 2:g} ms) the timeout",
                )


def retry_coverage(setup: Setup) -> Iterator[Finding]:
    """Retries on, but not for this fault: Istio's preset retries 503 and connect failures only."""
    for fault in setup.faults:
        for placement, policy in callers(setup, fault.service):
            r = policy.retry
            if r.enabled and r.max_attempts > 1 and fails(fault, policy) and not retried(fault, policy):
                what = {"error": f"status {fault.error_status}", "reset_peer": "a reset connection"}.get(
                    fault.kind, "a timed-out try"
                )
                yield Finding(
                    "retry-not-covering",
                    placement,
                    fault.service,
                    f"retries are on at the {placement} ({r.max_attempts} tries) but do not cover {what}: "
                    f"calls that meet {fault.instance}'s {fault.kind} fail on the first try.",
                    f"gatemesh policy set {fault.service} --at {placement} "
                    + (
                        f"retry.retry_on_statuses={','.join(map(str, sorted({*r.retry_on_statuses, fault.error_status})))}"
                        if fault.kind == "error"
                        else "retry.retry_on_reset=true"
                        if fault.kind == "reset_peer"
                        else "retry.retry_on_timeout=true"
                    ),
                )


def panic_threshold(setup: Setup) -> Iterator[Finding]:
    """Envoy's healthy_panic_threshold: below it, the balancer uses every instance, ejected or not."""
    for service in sorted({f.service for f in setup.faults}):
        n = setup.counts.get(service, 1)
        for placement, policy in callers(setup, service):
            panic = policy.outlier.panic_threshold_percent
            failing = {f.instance for f in failing_faults(setup, service, policy)}
            if not panic or not policy.outlier.enabled or not failing:
                continue
            healthy = 100.0 * (n - len(failing)) / n
            if healthy < panic:
                yield Finding(
                    "panic-threshold",
                    placement,
                    service,
                    f"with {len(failing)} of {n} {service} instances failing only {healthy:.0f}% stay healthy, "
                    f"below the {panic:g}% panic threshold: the balancer then sends to every instance, the "
                    f"failing ones included (Envoy's healthy_panic_threshold), and ejection stops helping.",
                    f"expected with this fault; gatemesh policy set {service} --at {placement} "
                    f"outlier.panic_threshold_percent=0 turns panic routing off",
                )


CHECKS: tuple[Check, ...] = (
    ejection_cap,
    breaker_sees,
    retries_hide_errors,
    tries_multiply,
    timeouts,
    latency_at_timeout,
    retry_coverage,
    panic_threshold,
)
