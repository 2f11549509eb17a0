"""discovery: a new instance — catalog is scaled from 3 to 4 while calls flow.

With the registry up, catalog-4 gets its first call within 1 s of registering, and no
call fails meanwhile. Control arm: with the control plane paused, catalog-4 cannot be
discovered (it gets no call at all), while the proxies keep serving 100% of the calls
from the endpoints they last knew.
"""

from __future__ import annotations

import threading
import time

import pytest

from gatemesh.runner import RunnerError

from chaoslib import EDGE, MESH, Result

DISCOVER_S = 1.0
AFTER_S = DISCOVER_S + 0.3  # calls keep flowing this long after the registration
PAUSED_SCALE_S = 2.0  # control arm: how long the new instance gets to show up

pytestmark = [pytest.mark.discovery, pytest.mark.slow]
WHERE = [pytest.param(EDGE, marks=pytest.mark.edge), pytest.param(MESH, marks=pytest.mark.mesh)]


class Traffic:
    """Sequential calls to catalog on a thread, each result kept; bounded in time."""

    def __init__(self, chaos, where: str, limit_s: float = 30.0) -> None:
        self.results: list[Result] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(chaos, where, limit_s), daemon=True)

    def _run(self, chaos, where: str, limit_s: float) -> None:
        end = time.monotonic() + limit_s
        while not self.stop.is_set() and time.monotonic() < end:
            self.results.append(chaos.call(where, "catalog"))
            time.sleep(0.005)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)


@pytest.mark.parametrize("where", WHERE)
def test_new_instance_gets_traffic_within_a_second_of_registering(chaos, where):
    registered_at: list[float] = []

    def watch() -> None:  # when does the registry first list catalog-4?
        end = time.monotonic() + 60
        while not registered_at and time.monotonic() < end:
            if "catalog-4" in chaos.registered("catalog"):
                registered_at.append(time.monotonic())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    with Traffic(chaos, where) as traffic:
        watcher.start()
        chaos.runner.scale("catalog", 4)  # returns once catalog-4 is registered
        watcher.join(5)
        assert registered_at, "catalog-4 never showed up in the registry"
        chaos.wait_until(
            "calls after the registration",
            lambda: traffic.results and traffic.results[-1].started_s > registered_at[0] + AFTER_S,
            timeout_s=10,
        )

    first = next((r for r in traffic.results if r.instance == "catalog-4"), None)
    assert first is not None, "catalog-4 never got a call"
    took = first.started_s + first.elapsed_s - registered_at[0]
    assert took <= DISCOVER_S, f"catalog-4's first call came {took:.2f}s after it registered"
    assert all(r.ok for r in traffic.results), [r for r in traffic.results if not r.ok]


@pytest.mark.parametrize("where", WHERE)
def test_control_with_the_control_plane_paused_a_new_instance_gets_nothing(chaos, where):
    with chaos.faults.pause("controlplane"), Traffic(chaos, where) as traffic:
        t0 = time.monotonic()
        with pytest.raises(RunnerError):
            chaos.runner.scale("catalog", 4, timeout_s=PAUSED_SCALE_S)  # never registers, given up
        paused_s = time.monotonic() - t0

    assert paused_s >= PAUSED_SCALE_S
    assert len(traffic.results) >= 20, "too few calls to judge"
    assert not any(r.instance == "catalog-4" for r in traffic.results)
    assert all(r.ok for r in traffic.results), [r for r in traffic.results if not r.ok]  # 100% served
