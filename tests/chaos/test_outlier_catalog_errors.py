"""outlier ejection — catalog-1 (one of three) fails every call with a 503.

With outlier detection (3 errors in a row, ejected for 3 s, at most 34% of the
instances): catalog-1 receives exactly 3 calls, then none until its ejection time is
over, then traffic again. When catalog-2 starts failing too, the cap keeps it in
(``ejection-capped``) and it keeps getting traffic. Without detection: catalog-1 keeps
its third of the calls, and every one of them fails.
"""

from __future__ import annotations

import time

import pytest

from chaoslib import EDGE, MESH, only

ERRORS = 3
EJECT_S = 3.0
CALLS = 18  # sequential; 6 per instance in round robin

pytestmark = [pytest.mark.outlier]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]
OUTLIER = {
    "enabled": True,
    "consecutive_errors": ERRORS,
    "base_ejection_s": EJECT_S,
    "max_ejection_s": 10 * EJECT_S,
    "max_ejection_percent": 34.0,
}


@pytest.mark.parametrize("where", WHERE)
def test_failing_instance_is_ejected_for_its_time_and_the_cap_holds(chaos, where):
    chaos.set_policy(where, "catalog", only(outlier=OUTLIER))
    chaos.faults.misbehave("catalog-1", error_rate=1.0, error_status=503)
    chaos.reset_stats("catalog-1", "catalog-2", "catalog-3")
    seq = chaos.last_event_seq(where)

    # 1. ejected after ERRORS failures in a row; then no traffic
    results = [chaos.call(where, "catalog") for _ in range(CALLS)]
    failed = [r for r in results if not r.ok]
    assert len(failed) == ERRORS and all(r.instance == "catalog-1" for r in failed), failed
    assert chaos.stats("catalog-1") == ERRORS
    assert chaos.upstreams(where)["catalog"]["ejected"] == ["catalog-1"]
    ejections = [e for e in chaos.events(where, seq) if e["kind"] == "ejected" and e["instance"] == "catalog-1"]
    assert len(ejections) == 1, chaos.events(where, seq)
    ejected_at = ejections[0]["at"]  # wall clock, as events are

    # 2. the cap: catalog-2 fails too, but a second ejection would pass 34% of 3
    chaos.faults.misbehave("catalog-2", error_rate=1.0, error_status=503)
    more = [chaos.call(where, "catalog") for _ in range(CALLS // 2)]
    assert time.time() - ejected_at < EJECT_S - 0.3, "too slow to judge within the ejection time"
    assert chaos.stats("catalog-1") == ERRORS, "catalog-1 got traffic while ejected"
    assert chaos.stats("catalog-2") >= CALLS // 2 // 2, "the cap did not keep catalog-2 in"
    assert chaos.upstreams(where)["catalog"]["ejected"] == ["catalog-1"]
    assert sum(1 for r in more if r.instance == "catalog-2" and not r.ok) >= ERRORS
    events = chaos.events(where, seq)
    assert any(e["kind"] == "ejection-capped" and e["instance"] == "catalog-2" for e in events), events

    # 3. calls keep coming: catalog-1 gets none until its ejection time is over, then some
    chaos.faults.reset()
    deadline = time.monotonic() + EJECT_S + 2.0
    while chaos.stats("catalog-1") == ERRORS and time.monotonic() < deadline:
        assert chaos.call(where, "catalog").ok
        time.sleep(0.02)
    back_at = time.time()
    assert chaos.stats("catalog-1") > ERRORS, "catalog-1 never came back"
    assert back_at - ejected_at >= EJECT_S - 0.05, f"catalog-1 came back after {back_at - ejected_at:.2f}s"


@pytest.mark.parametrize("where", WHERE)
def test_control_without_detection_the_failing_instance_keeps_its_share(chaos, where):
    chaos.set_policy(where, "catalog", only())
    chaos.faults.misbehave("catalog-1", error_rate=1.0, error_status=503)
    chaos.reset_stats("catalog-1")
    results = [chaos.call(where, "catalog") for _ in range(CALLS)]

    failed = [r for r in results if not r.ok]
    assert chaos.stats("catalog-1") == CALLS // 3
    assert len(failed) == CALLS // 3 and all(r.instance == "catalog-1" for r in failed), failed
