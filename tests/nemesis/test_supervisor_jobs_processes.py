"""Supervisor jobs over real processes (issue 12, item 3): with the control plane dead,
`gatemesh scale catalog 3` waits for it; a `restart controlplane` asked for meanwhile runs
at once instead of queueing behind that wait, and the scale then completes.

Control arm: the one-job-at-a-time supervisor (GATEMESH_SUPERVISOR_WORKERS=1) on the same
topology: the restart is still queued behind the scale 10 s later.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gatemesh.runner import RunnerError
from gatemesh.runner.control import Control
from gatemesh.runner.state import read_state

SCALE = "catalog=2,pricing=1,inventory=1,reviews=1,storefront=1,orders=1"
RESTART_WITHIN_S = 15.0  # the issue measured 41 s; a restart alone takes ~1 s


def up(home: Path, port_base: int, workers: int | None) -> tuple[Control, dict]:
    env = {**os.environ, "GATEMESH_HOME": str(home)}
    env.pop("GATEMESH_NAME", None)
    if workers is not None:
        env["GATEMESH_SUPERVISOR_WORKERS"] = str(workers)
    cmd = [
        sys.executable,
        "-m",
        "gatemesh.cli",
        "up",
        "--topology",
        "edge-mesh",
        "--detach",
        "--port-base",
        str(port_base),
        "--name",
        "jobs",
        "--scale",
        SCALE,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL)
    state = read_state(home / ".gatemesh" / "run" / "jobs") or {}
    if done.returncode != 0:
        kill_supervisor(state)
        pytest.fail(f"gatemesh up failed: {done.stderr[-2000:]}", pytrace=False)
    return Control.from_state(state), state


def kill_supervisor(state: dict) -> None:
    pid = state.get("pid")
    if pid:  # its children die with it (PR_SET_PDEATHSIG)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def scale_while_the_controlplane_is_dead(control: Control, restart_timeout_s: float):
    control.component("controlplane", "kill")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        scale = pool.submit(control.scale, "catalog", 3, 90.0)
        time.sleep(2.0)  # the scale is now waiting on the registry
        assert not scale.done()
        t0 = time.monotonic()
        try:
            control.component("controlplane", "restart", timeout_s=restart_timeout_s)
            restart_s: float | None = time.monotonic() - t0
        except RunnerError:
            restart_s = None  # still queued when the caller gave up
        return restart_s, scale


@pytest.mark.slow
def test_a_restart_does_not_queue_behind_a_scale_waiting_on_the_controlplane(tmp_path, port_bases):
    base = port_bases.acquire()
    state: dict = {}
    try:
        control, state = up(tmp_path, base, None)
        restart_s, scale = scale_while_the_controlplane_is_dead(control, 60.0)
        assert restart_s is not None and restart_s < RESTART_WITHIN_S, restart_s
        result = scale.result(timeout=90)
        assert "catalog-3" in result["added"], result
        print(f"\nrestart took {restart_s:.1f}s while the scale waited; the scale then added {result['added']}")
        control.stop()
    finally:
        time.sleep(0.5)
        kill_supervisor(state)
        port_bases.release(base)


@pytest.mark.slow
def test_control_arm_one_job_at_a_time_the_restart_waits_behind_the_scale(tmp_path, port_bases):
    base = port_bases.acquire()
    state: dict = {}
    try:
        control, state = up(tmp_path, base, 1)
        restart_s, _scale = scale_while_the_controlplane_is_dead(control, 10.0)
        assert restart_s is None, f"the restart ran after {restart_s}s although one job was running"
    finally:
        kill_supervisor(state)  # not `down`: it would queue behind the scale's 60 s wait too
        port_bases.release(base)
