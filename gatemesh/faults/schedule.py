"""When a fault is in force: schedules (pure logic) and the thread that drives them.

A schedule answers one question, ``state(elapsed_s, calls) -> (active, finished)``, from
the seconds since the fault was armed and the calls the instance has received since
(its ``/admin/stats`` count). No clock or randomness of its own: time comes in as a
number and ``Flapping`` draws from ``random.Random(seed)``, so a run is reproducible and
the unit tests need no sleeps.

    Always()                               in force until removed
    Window(start_s=5, end_s=15)            from t=5 s to t=15 s
    FirstCalls(n=3)                        the first 3 calls at the instance
    Flapping(period_s=1, on_probability=0.3, seed=7, duration_s=20)
                                           each second on with probability 0.3 (seeded)

``FirstCalls`` counts what the *app* received, so it suits faults a request still gets
through to the app with: misbehave, and toxics on the ``downstream`` stream (the answer
is hurt, the request arrives). Calls are counted by polling (every ``TICK_S``), so a burst
faster than that can see a few more than N calls hurt: the count is a lower bound.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import FaultError

TICK_S = 0.01  # how often the scheduler looks at the clock and the call counts


class Schedule:
    needs_calls = False  # True if state() depends on the instance's call count

    def state(self, elapsed_s: float, calls: int) -> tuple[bool, bool]:
        """(active now, finished for good)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Always(Schedule):
    def state(self, elapsed_s: float, calls: int) -> tuple[bool, bool]:
        return True, False

    def describe(self) -> str:
        return "always"


@dataclass(frozen=True)
class Window(Schedule):
    start_s: float = 0.0  # in force from here (seconds after it was armed) ...
    end_s: float | None = None  # ... to here (None: until removed)

    def __post_init__(self) -> None:
        if not isinstance(self.start_s, (int, float)) or self.start_s < 0:
            raise FaultError(f"a window's start_s must be a number of seconds ≥ 0, got {self.start_s!r}")
        if self.end_s is not None and (not isinstance(self.end_s, (int, float)) or self.end_s <= self.start_s):
            raise FaultError(f"a window's end_s must be after its start_s ({self.start_s:g} s), got {self.end_s!r}")

    def state(self, elapsed_s: float, calls: int) -> tuple[bool, bool]:
        if self.end_s is not None and elapsed_s >= self.end_s:
            return False, True
        return elapsed_s >= self.start_s, False

    def describe(self) -> str:
        end = f"{self.end_s:g}s" if self.end_s is not None else "removed"
        return f"from t={self.start_s:g}s to {'t=' if self.end_s is not None else ''}{end}"


@dataclass(frozen=True)
class FirstCalls(Schedule):
    n: int = 1  # calls at the instance hurt by the fault
    needs_calls = True

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise FaultError(f"first-calls needs a whole number of calls ≥ 1, got {self.n!r}")

    def state(self, elapsed_s: float, calls: int) -> tuple[bool, bool]:
        if calls >= self.n:
            return False, True
        return True, False

    def describe(self) -> str:
        return f"first {self.n} call{'s' if self.n != 1 else ''}"


@dataclass(frozen=True)
class Flapping(Schedule):
    period_s: float = 1.0  # one coin toss per period
    on_probability: float = 0.5  # chance a period is faulty
    seed: int = 0  # the same seed gives the same periods
    duration_s: float | None = None  # stop after this long (None: until removed)
    _plan: list = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.period_s, (int, float)) or self.period_s <= 0:
            raise FaultError(f"flapping needs period_s > 0, got {self.period_s!r}")
        if not isinstance(self.on_probability, (int, float)) or not 0 <= self.on_probability <= 1:
            raise FaultError(f"flapping needs on_probability from 0 to 1, got {self.on_probability!r}")
        if not isinstance(self.seed, int):
            raise FaultError(f"flapping needs an integer seed, got {self.seed!r}")

    def on_in_period(self, k: int) -> bool:
        """Whether period ``k`` (0-based) is faulty; drawn in order from Random(seed)."""
        rng_plan = self._plan
        if not rng_plan:
            rng_plan.append(random.Random(self.seed))
        rng = rng_plan[0]
        while len(rng_plan) - 1 <= k:
            rng_plan.append(rng.random() < self.on_probability)
        return rng_plan[k + 1]

    def state(self, elapsed_s: float, calls: int) -> tuple[bool, bool]:
        if self.duration_s is not None and elapsed_s >= self.duration_s:
            return False, True
        return self.on_in_period(int(elapsed_s // self.period_s)), False

    def describe(self) -> str:
        until = f" for {self.duration_s:g}s" if self.duration_s is not None else ""
        return f"flapping: each {self.period_s:g}s on with p={self.on_probability:g} (seed {self.seed}){until}"


class Scheduled:
    """One fault under a schedule: ``apply``/``revert`` are called as its state changes."""

    def __init__(
        self,
        label: str,
        schedule: Schedule,
        apply: Callable[[], None],
        revert: Callable[[], None],
        calls: Callable[[], int] | None = None,
    ) -> None:
        if schedule.needs_calls and calls is None:
            raise FaultError(f"{schedule.describe()}: counting calls needs an instance with /admin/stats")
        self.label = label
        self.schedule = schedule
        self._apply, self._revert, self._calls = apply, revert, calls
        self.armed_at: float | None = None
        self.calls_at_arm = 0
        self.active = False
        self.finished = False
        self.error: str | None = None

    def arm(self, now: float) -> None:
        self.armed_at = now
        self.calls_at_arm = self._calls() if self._calls is not None and self.schedule.needs_calls else 0
        self.step(now)

    def step(self, now: float) -> None:
        """Bring the fault to the state its schedule wants at ``now``."""
        if self.finished or self.armed_at is None:
            return
        calls = self._calls() - self.calls_at_arm if self.schedule.needs_calls and self._calls is not None else 0
        want, finished = self.schedule.state(now - self.armed_at, calls)
        if want != self.active:
            (self._apply if want else self._revert)()
            self.active = want
        self.finished = finished

    def cancel(self) -> None:
        if self.active:
            self._revert()
            self.active = False
        self.finished = True


class Scheduler:
    """A daemon thread stepping every scheduled fault each ``TICK_S``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, tick_s: float = TICK_S) -> None:
        self.clock = clock
        self.tick_s = tick_s
        self.items: list[Scheduled] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, item: Scheduled) -> Scheduled:
        with self._lock:
            item.arm(self.clock())
            if not item.finished:
                self.items.append(item)
        self._ensure_thread()
        return item

    def remove(self, item: Scheduled) -> None:
        with self._lock:
            item.cancel()
            if item in self.items:
                self.items.remove(item)

    def cancel_all(self) -> None:
        with self._lock:
            for item in self.items:
                try:
                    item.cancel()
                except FaultError:
                    pass
            self.items.clear()

    def step(self) -> None:
        with self._lock:
            now = self.clock()
            for item in list(self.items):
                try:
                    item.step(now)
                except Exception as e:  # keep the thread alive; the error shows in list()
                    item.error = str(e)
                if item.finished:
                    self.items.remove(item)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until every scheduled fault has finished (e.g. the CLI's foreground run)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if not self.items:
                    return True
            time.sleep(self.tick_s)
        return False

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="fault-scheduler", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self.items:
                    self._thread = None
                    return
            self.step()
            time.sleep(self.tick_s)
