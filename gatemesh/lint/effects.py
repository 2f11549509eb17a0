"""What a fault does to a call at a proxy with a given policy: does the call fail, would
the policy retry it, which placements call the service at all. The checks ask these
questions; keeping them here keeps each check a statement of one trap."""

from __future__ import annotations

from collections.abc import Iterator

from gatemesh.policy import Policy

from .model import FAST_FAILURES, HANGS, Fault, Setup


def fails(fault: Fault, policy: Policy) -> bool:
    """Does a call that meets ``fault`` count as failed at a proxy with ``policy``?"""
    if fault.kind in FAST_FAILURES:
        return True
    timed = policy.timeout.enabled
    if fault.kind in HANGS:
        return timed
    return timed and fault.latency_ms / 1000.0 >= policy.timeout.attempt_timeout_s  # latency


def retried(fault: Fault, policy: Policy) -> bool:
    """Would ``policy`` retry a call that met ``fault`` (for a GET)?"""
    r = policy.retry
    if not r.enabled or r.max_attempts < 2:
        return False
    if fault.kind == "error":
        return fault.error_status in r.retry_on_statuses
    if fault.kind == "reset_peer":
        return r.retry_on_reset
    if fault.kind in ("down", "kill"):
        return r.retry_on_connect_failure
    return r.retry_on_timeout and fails(fault, policy)  # timeout, pause, slow latency


def callers(setup: Setup, service: str) -> Iterator[tuple[str, Policy]]:
    for placement in setup.placements():
        policy = setup.policy(placement, service)
        if policy is not None and setup.rate_at(placement, service) > 0:
            yield placement, policy


def failing_faults(setup: Setup, service: str, policy: Policy) -> list[Fault]:
    return [f for f in setup.faulty(service) if fails(f, policy)]
