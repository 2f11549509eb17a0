"""Network faults: what Toxiproxy can do to the wire into one instance.

One small frozen dataclass per toxic (Toxiproxy's own shape: ``toxics/latency.go`` is one
config struct), every field with its unit in its name and validated with a sentence.
``attributes()`` is the body Toxiproxy expects; ``TOXICS`` maps the CLI/JSON name to the
class. ``stream`` is the direction: ``downstream`` = the answer (instance → caller),
``upstream`` = the request (caller → instance). ``toxicity`` is the share of
*connections* the toxic applies to (Toxiproxy decides per connection, not per call).

    Latency(ms=2000, jitter_ms=100)        every chunk waits ms ± jitter_ms
    Timeout(ms=0)                          black hole: no data passes; ms > 0 closes after ms
    ResetPeer(timeout_ms=0)                TCP RST (connection reset by peer), after timeout_ms
    Bandwidth(rate_kbps=10)                at most rate_kbps KB/s
    Slicer(average_size_bytes=1, ...)      data cut into small packets with delays between
    LimitData(bytes=1)                     the connection is closed after so many bytes
    SlowClose(delay_ms=1000)               the close is delayed
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from .errors import FaultError

STREAMS = ("downstream", "upstream")


def _check(name: str, value: Any, low: float, high: float | None = None, integer: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer and not float(value).is_integer():
        ok = False
    if not ok or value < low or (high is not None and value > high):
        rng = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        kind = "a whole number" if integer else "a number"
        raise FaultError(f"{name} must be {kind} {rng}, got {value!r}")


@dataclass(frozen=True)
class Toxic:
    """Base: a Toxiproxy toxic with its direction and toxicity."""

    kind: ClassVar[str] = ""
    stream: str = field(default="downstream", kw_only=True)   # downstream = answers, upstream = requests
    toxicity: float = field(default=1.0, kw_only=True)        # share of connections affected, 0..1

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise FaultError(f"stream must be one of {', '.join(STREAMS)}, got {self.stream!r}")
        _check("toxicity", self.toxicity, 0.0, 1.0)

    def attributes(self) -> dict[str, int]:
        """The toxic's ``attributes`` in Toxiproxy's API."""
        raise NotImplementedError

    def describe(self) -> str:
        own = {k: v for k, v in asdict(self).items() if k not in ("stream", "toxicity")}
        text = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in own.items())
        extra = "" if self.toxicity == 1.0 else f" toxicity={self.toxicity:g}"
        return f"{self.kind} {text} ({self.stream}{extra})".replace("  ", " ")


@dataclass(frozen=True)
class Latency(Toxic):
    kind: ClassVar[str] = "latency"
    ms: float = 1000.0        # added to every chunk of data
    jitter_ms: float = 0.0    # ± uniformly random on top

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("latency ms", self.ms, 0, 3_600_000)
        _check("jitter_ms", self.jitter_ms, 0, 3_600_000)

    def attributes(self) -> dict[str, int]:
        return {"latency": int(self.ms), "jitter": int(self.jitter_ms)}


@dataclass(frozen=True)
class Timeout(Toxic):
    kind: ClassVar[str] = "timeout"
    ms: float = 0.0           # 0: hold the connection forever with no data (a black hole)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("timeout ms", self.ms, 0, 3_600_000)

    def attributes(self) -> dict[str, int]:
        return {"timeout": int(self.ms)}


@dataclass(frozen=True)
class ResetPeer(Toxic):
    kind: ClassVar[str] = "reset_peer"
    timeout_ms: float = 0.0   # reset after this long (0: at once)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("reset_peer timeout_ms", self.timeout_ms, 0, 3_600_000)

    def attributes(self) -> dict[str, int]:
        return {"timeout": int(self.timeout_ms)}


@dataclass(frozen=True)
class Bandwidth(Toxic):
    kind: ClassVar[str] = "bandwidth"
    rate_kbps: float = 1.0    # KB per second

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("bandwidth rate_kbps", self.rate_kbps, 0, 10_000_000, integer=True)

    def attributes(self) -> dict[str, int]:
        return {"rate": int(self.rate_kbps)}


@dataclass(frozen=True)
class Slicer(Toxic):
    kind: ClassVar[str] = "slicer"
    average_size_bytes: int = 1     # mean packet size
    size_variation_bytes: int = 0   # ± on it (must be smaller than the average)
    delay_us: int = 1000            # between packets, microseconds

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("slicer average_size_bytes", self.average_size_bytes, 1, 1 << 20, integer=True)
        _check("slicer size_variation_bytes", self.size_variation_bytes, 0, 1 << 20, integer=True)
        _check("slicer delay_us", self.delay_us, 0, 60_000_000, integer=True)
        if self.size_variation_bytes >= self.average_size_bytes and self.size_variation_bytes:
            raise FaultError("slicer size_variation_bytes must be smaller than average_size_bytes")

    def attributes(self) -> dict[str, int]:
        return {"average_size": int(self.average_size_bytes), "size_variation": int(self.size_variation_bytes),
                "delay": int(self.delay_us)}


@dataclass(frozen=True)
class LimitData(Toxic):
    kind: ClassVar[str] = "limit_data"
    bytes: int = 0            # close the connection once this many bytes passed

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("limit_data bytes", self.bytes, 0, 1 << 40, integer=True)

    def attributes(self) -> dict[str, int]:
        return {"bytes": int(self.bytes)}


@dataclass(frozen=True)
class SlowClose(Toxic):
    kind: ClassVar[str] = "slow_close"
    delay_ms: float = 1000.0  # before the close goes through

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("slow_close delay_ms", self.delay_ms, 0, 3_600_000)

    def attributes(self) -> dict[str, int]:
        return {"delay": int(self.delay_ms)}


TOXICS: dict[str, type[Toxic]] = {
    cls.kind: cls for cls in (Latency, Timeout, ResetPeer, Bandwidth, Slicer, LimitData, SlowClose)
}
