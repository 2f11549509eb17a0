"""Helpers shared by the subcommands: the run name, the state of a run, cleaning up."""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gatemesh.runner.control import Control
from gatemesh.runner.errors import RunnerError
from gatemesh.runner.process import is_ours, kill_if_ours
from gatemesh.runner.state import DEFAULT_NAME, SPEC_FILE, STATE_FILE, read_state, run_dir

from ._show import command_name

SUPERVISOR_STOP_S = 20.0  # the supervisor stops its components within ~5 s; this is the outer bound


class CliError(Exception):
    """A problem the user can fix; the message is one sentence saying how."""


def add_name_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--name",
        default=os.environ.get("GATEMESH_NAME", DEFAULT_NAME),
        help=f"which run (several can run side by side on different --port-base); default {DEFAULT_NAME!r}",
    )


def name_hint(name: str) -> str:
    return "" if name == DEFAULT_NAME else f" --name {name}"


def supervisor_alive(state: dict[str, Any]) -> bool:
    pid, argv = state.get("pid"), state.get("argv")
    return bool(pid and argv and is_ours(int(pid), argv))


def load(name: str) -> tuple[Path, dict[str, Any] | None]:
    directory = run_dir(name)
    return directory, read_state(directory)


def live_status(state: dict[str, Any]) -> dict[str, Any] | None:
    """The supervisor's live status, or None when it does not answer."""
    if not supervisor_alive(state):
        return None
    try:
        return Control.from_state(state).status()
    except RunnerError:
        return None


def control_of(name: str) -> Control:
    """The control client of the running topology ``name``; CliError if none runs."""
    _, state = load(name)
    if state is None or not supervisor_alive(state):
        raise CliError(f"no topology named {name!r} is running; start one with: {command_name()} up{name_hint(name)}")
    return Control.from_state(state)


def wait_gone(pid: int, argv: list[str], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_ours(pid, argv):
            return True
        time.sleep(0.05)
    return not is_ours(pid, argv)


def tear_down(directory: Path, state: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Stop a run for good: ask the supervisor to stop, SIGKILL it if it does not, then
    SIGKILL any process it started that still runs the command we started (the pid was
    not reused), and remove the state. Returns what was stopped."""
    pid, argv = int(state.get("pid") or 0), state.get("argv") or []
    live = live_status(state)
    components = [i["name"] for i in (live or state.get("runner") or {}).get("instances", []) if i.get("alive")]
    supervisor = False
    if pid and is_ours(pid, argv):
        supervisor = True
        try:
            Control.from_state(state).stop()
        except RunnerError:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if not wait_gone(pid, argv, SUPERVISOR_STOP_S):
            say(f"the supervisor (pid {pid}) did not stop in {SUPERVISOR_STOP_S:.0f}s; killing it")
            kill_if_ours(pid, argv)
            wait_gone(pid, argv, 2.0)
    leftovers = []
    for entry in (read_state(directory) or state).get("pids", []):
        if kill_if_ours(int(entry["pid"]), entry["argv"]):
            leftovers.append(f"{entry['name']} (pid {entry['pid']})")
    for name in (STATE_FILE, SPEC_FILE):
        try:
            (directory / name).unlink()
        except FileNotFoundError:
            pass
    return {"supervisor": pid if supervisor else None, "components": components, "leftovers": leftovers}
