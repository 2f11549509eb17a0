"""Scenarios that read the same on every runner that is not the process runner: the docker
compose tier (tests/compose/test_compose_chaos.py) and the cluster built here
(tests/k8s/test_k8s_chaos.py) both call these, each with its own ``chaos`` fixture (a
``chaoslib.Chaos`` whose faults go to containers or pods), its own markers and its own
docstring for what the fault is there. Counts are the shared ``edge-mesh`` manifests':
catalog 3, pricing 2.

Each pair is the pattern and its control arm, the same fault with the pattern off, whose
failure is asserted. What only one runner can do (a pod deleted and remade by its
StatefulSet, a container disconnected from the Docker network) stays in that runner's file.
"""

from __future__ import annotations

from typing import Any

from gatemesh.policy import Policy, all_off

EDGE, MESH = "edge", "mesh"
HUNG_CLIENT_S = 1.5  # the client gives up on a call to a frozen container after this

TIMEOUT_S = 0.3
TIMEOUT = {"enabled": True, "attempt_timeout_s": TIMEOUT_S, "request_timeout_s": TIMEOUT_S}
RETRY = {"enabled": True, "max_attempts": 3}
BREAKER = {"enabled": True, "consecutive_failures": 5, "open_s": 30.0}
BREAKER_CALLS = 12
OUTLIER = {"enabled": True, "consecutive_errors": 3, "base_ejection_s": 30.0, "max_ejection_percent": 50.0}


def only(**sections: dict) -> Policy:
    """Every pattern off but the given ones (``chaoslib.only``)."""
    return all_off().merged(sections)


def show(results: list) -> str:
    """Every result on its own line (pytest would shorten a list's repr in the message)."""
    return "\n" + "\n".join(f"  {r!r}" for r in results)


def attempts(r: Any) -> int:
    """Attempts of the first proxy on the way: ``X-Gatemesh-Attempts`` lists every hop's
    (``gateway=2, sidecar:catalog-3=1``)."""
    return int((r.attempts or "1").split(",")[0].rsplit("=", 1)[-1])


def endpoints(chaos: Any, where: str, service: str) -> set[str]:
    return set(chaos.upstreams(where)[service]["endpoints"])


# ---------------------------------------------------------------------- timeouts: pricing-1 frozen


def _warm(chaos: Any, where: str, service: str, n: int = 4) -> None:
    """``n`` concurrent calls first, so the scenario's own calls find their connections open,
    as in a mesh that has been serving: the fixture's reset closed every connection, and
    under mTLS a new one costs a handshake through Toxiproxy, which a loaded machine can
    stretch past a 0.3 s timeout on its own."""
    warm = chaos.burst(lambda i: chaos.call(where, service), n, concurrency=n)
    assert all(r.ok for r in warm), show(warm)


def timeout_bounds_calls_to_a_paused_app(chaos: Any, where: str, margin_s: float) -> None:
    """pricing-1's app frozen (``faults.pause``: its container; its sidecar still accepts):
    with a 0.3 s timeout the calls that meet it come back 504 `timeout` within the margin,
    the others reach pricing-2."""
    chaos.set_policy(where, "pricing", only(timeout=TIMEOUT))
    _warm(chaos, where, "pricing")
    chaos.faults.pause("pricing-1")
    results = chaos.burst(lambda i: chaos.call(where, "pricing", timeout_s=HUNG_CLIENT_S * 2), 4, concurrency=4)

    assert max(r.elapsed_s for r in results) <= TIMEOUT_S + margin_s, show(results)
    timed_out = [r for r in results if r.status == 504]
    assert len(timed_out) == 2 and all(r.reason == "timeout" for r in timed_out), show(results)
    assert all(r.ok and r.instance == "pricing-2" for r in results if r.status != 504), show(results)


def control_without_timeout_calls_hang(chaos: Any, where: str) -> None:
    """The same pause with the timeout off: the calls that meet pricing-1 hang until the
    client gives up."""
    chaos.set_policy(where, "pricing", only())
    _warm(chaos, where, "pricing")
    chaos.faults.pause("pricing-1")
    results = chaos.burst(lambda i: chaos.call(where, "pricing", timeout_s=HUNG_CLIENT_S), 4, concurrency=4)

    hung = [r for r in results if r.status == 0]
    assert len(hung) == 2 and all(r.elapsed_s >= HUNG_CLIENT_S * 0.9 for r in hung), show(results)
    assert all(r.ok and r.instance == "pricing-2" for r in results if r.status != 0), show(results)


# ---------------------------------------------------------------------- retries: resets into catalog-2


def retry_hides_connection_resets(chaos: Any, where: str) -> None:
    """Toxiproxy resets every connection into catalog-2: each call that met it is retried on
    another instance, and no client sees an error."""
    chaos.set_policy(where, "catalog", only(retry=RETRY))
    chaos.faults.reset_peer("catalog-2")
    results = [chaos.call(where, "catalog") for _ in range(6)]

    assert all(r.ok and r.instance in ("catalog-1", "catalog-3") for r in results), show(results)
    assert any(attempts(r) == 2 for r in results), show(results)


def control_without_retry_resets_reach_the_client(chaos: Any, where: str) -> None:
    chaos.set_policy(where, "catalog", only())
    chaos.faults.reset_peer("catalog-2")
    results = [chaos.call(where, "catalog") for _ in range(6)]

    failed = [r for r in results if not r.ok]
    assert len(failed) == 2 and all(r.status in (502, 503) for r in failed), show(results)


# ---------------------------------------------------------------------- breaker: pricing fails


def _pricing_calls(chaos: Any) -> int:
    return chaos.stats("pricing-1") + chaos.stats("pricing-2")


def _pricing_fails(chaos: Any) -> None:
    for instance in ("pricing-1", "pricing-2"):
        chaos.faults.misbehave(instance, error_rate=1.0, error_status=503, seed=1)


def breaker_opens_and_spares_the_service(chaos: Any, where: str) -> None:
    """Every pricing call fails: after 5 the breaker opens, and the rest are refused at the
    caller without reaching pricing (counted at the instances)."""
    chaos.set_policy(where, "pricing", only(breaker=BREAKER))
    _pricing_fails(chaos)
    before = _pricing_calls(chaos)
    results = [chaos.call(where, "pricing") for _ in range(BREAKER_CALLS)]

    refused = [r for r in results if r.reason in ("circuit-open", "no-healthy-upstream")]
    assert len(refused) >= BREAKER_CALLS - 6, show(results)
    assert all(r.status == 503 for r in results), show(results)
    assert _pricing_calls(chaos) - before <= 6, "the open breaker still let calls through"


def control_without_breaker_every_call_hits_the_service(chaos: Any, where: str) -> None:
    chaos.set_policy(where, "pricing", only())
    _pricing_fails(chaos)
    before = _pricing_calls(chaos)
    results = [chaos.call(where, "pricing") for _ in range(BREAKER_CALLS)]

    assert not [r for r in results if r.reason == "circuit-open"], show(results)
    assert _pricing_calls(chaos) - before == BREAKER_CALLS


# ---------------------------------------------------------------------- outlier: catalog-3 fails


def ejection_stops_sending_to_the_failing_instance(chaos: Any, where: str) -> None:
    """catalog-3 answers 503 to everything: three in a row eject it, and it gets no more
    calls (counted at the instance) while the others answer every one."""
    chaos.set_policy(where, "catalog", only(outlier=OUTLIER))
    chaos.faults.misbehave("catalog-3", error_rate=1.0, error_status=503, seed=1)
    warmup = [chaos.call(where, "catalog") for _ in range(9)]  # catalog-3 fails 3 times in a row
    assert "catalog-3" in chaos.upstreams(where)["catalog"]["ejected"], show(warmup)
    before = chaos.stats("catalog-3")
    results = [chaos.call(where, "catalog") for _ in range(6)]

    assert all(r.ok and r.instance in ("catalog-1", "catalog-2") for r in results), show(results)
    assert chaos.stats("catalog-3") == before


def control_without_ejection_the_instance_keeps_its_share(chaos: Any, where: str) -> None:
    chaos.set_policy(where, "catalog", only())
    chaos.faults.misbehave("catalog-3", error_rate=1.0, error_status=503, seed=1)
    results = [chaos.call(where, "catalog") for _ in range(9)]

    assert not chaos.upstreams(where)["catalog"]["ejected"]
    assert len([r for r in results if r.status == 503]) == 3, show(results)
