"""The dashboard's knobs: one frozen dataclass, every default with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DashboardConfig:
    # About once a second, as the issue asks: a breaker flip shows within a second, and
    # ~3 admin calls per proxy per second stay far below a proxy's own traffic.
    poll_interval_s: float = 1.0
    # One admin call may take this long before that part counts as down this round; under
    # the interval, so a paused proxy never stalls the round (Kiali uses 10 s, it polls less).
    fetch_timeout_s: float = 0.8
    # Keep polling this long after the last page closed: a reload does not lose the charts.
    linger_s: float = 30.0
    # Chart history: "the last minutes" (10 at 1 Hz = 600 points, a few KB per series).
    history_s: float = 600.0
    # Timeline entries kept and sent to a new page (each proxy keeps 2000 of its own).
    max_events: int = 500
    # A page that stops reading its stream is dropped once this many views queue up.
    max_queued_views: int = 20
    # The built-in load: at most this rate and duration (a demo load, bounded by design).
    max_load_rate_per_s: float = 200.0
    max_load_duration_s: float = 1800.0
    # Concurrent requests of the built-in load (bounded; each waits at most load_timeout_s).
    load_concurrency: int = 32
    load_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.1 <= self.poll_interval_s <= 10:
            raise ValueError(f"poll_interval_s must be from 0.1 to 10 seconds, got {self.poll_interval_s!r}")
        if not 0 < self.fetch_timeout_s < self.poll_interval_s:
            raise ValueError(
                f"fetch_timeout_s must be positive and shorter than poll_interval_s, got {self.fetch_timeout_s!r}"
            )
        if self.linger_s < 0 or self.history_s < 10 * self.poll_interval_s:
            raise ValueError("linger_s must be >= 0 and history_s at least ten poll intervals")
        if self.max_events < 10 or self.max_queued_views < 1:
            raise ValueError("max_events must be at least 10 and max_queued_views at least 1")
        if not 0 < self.max_load_rate_per_s <= 10_000 or not 0 < self.max_load_duration_s <= 86_400:
            raise ValueError("the load's rate and duration limits must be positive (rate <= 10000/s, <= 1 day)")
        if not 1 <= self.load_concurrency <= 1024 or self.load_timeout_s <= 0:
            raise ValueError("load_concurrency must be 1..1024 and load_timeout_s positive")
