"""Network faults: what Toxiproxy can do to the wire into one instance.

One small frozen dataclass per toxic (Toxiproxy's own shape: ``toxics/latency.go`` is one
config struct), every field with its unit in its name and validated with a sentence.
Each field names its Toxiproxy attribute and says what it does in its metadata
(``setting``); ``attributes()`` (the body Toxiproxy expects), the fault API's methods and
the CLI's options, their help and their ``key=value`` names are all derived from that,
so adding a toxic is adding one class here. ``TOXICS`` maps the Toxiproxy type to the
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

from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any, ClassVar

from .errors import FaultError

STREAMS = ("downstream", "upstream")


def setting(default: float, api: str, help: str) -> Any:
    """A toxic's own field: its default, its name in Toxiproxy's API and one line of help."""
    return field(default=default, metadata={"api": api, "help": help})


def settings(cls: type[Toxic]) -> list[Field[Any]]:
    """The fields a toxic adds to the base (not stream and toxicity), in their order."""
    return [f for f in fields(cls) if "api" in f.metadata]


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
    stream: str = field(default="downstream", kw_only=True)  # downstream = answers, upstream = requests
    toxicity: float = field(default=1.0, kw_only=True)  # share of connections affected, 0..1

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise FaultError(f"stream must be one of {', '.join(STREAMS)}, got {self.stream!r}")
        _check("toxicity", self.toxicity, 0.0, 1.0)

    def attributes(self) -> dict[str, int]:
        """The toxic's ``attributes`` in Toxiproxy's API (whole numbers, as Toxiproxy takes)."""
        return {f.metadata["api"]: int(getattr(self, f.name)) for f in settings(type(self))}

    def describe(self) -> str:
        own = {k: v for k, v in asdict(self).items() if k not in ("stream", "toxicity")}
        text = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in own.items())
        extra = "" if self.toxicity == 1.0 else f" toxicity={self.toxicity:g}"
        return f"{self.kind} {text} ({self.stream}{extra})".replace("  ", " ")


@dataclass(frozen=True)
class Latency(Toxic):
    kind: ClassVar[str] = "latency"
    ms: float = setting(1000.0, "latency", "added to every chunk of data, ms")
    jitter_ms: float = setting(0.0, "jitter", "± uniformly random on top, ms")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("latency ms", self.ms, 0, 3_600_000)
        _check("jitter_ms", self.jitter_ms, 0, 3_600_000)


@dataclass(frozen=True)
class Timeout(Toxic):
    kind: ClassVar[str] = "timeout"
    ms: float = setting(0.0, "timeout", "close after ms; 0 holds the connection with no data (a black hole)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("timeout ms", self.ms, 0, 3_600_000)


@dataclass(frozen=True)
class ResetPeer(Toxic):
    kind: ClassVar[str] = "reset_peer"
    timeout_ms: float = setting(0.0, "timeout", "reset after ms (0: at once)")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("reset_peer timeout_ms", self.timeout_ms, 0, 3_600_000)


@dataclass(frozen=True)
class Bandwidth(Toxic):
    kind: ClassVar[str] = "bandwidth"
    rate_kbps: float = setting(1.0, "rate", "at most KB per second")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("bandwidth rate_kbps", self.rate_kbps, 0, 10_000_000, integer=True)


@dataclass(frozen=True)
class Slicer(Toxic):
    kind: ClassVar[str] = "slicer"
    average_size_bytes: int = setting(1, "average_size", "mean packet size, bytes")
    size_variation_bytes: int = setting(0, "size_variation", "± bytes on it (smaller than the average)")
    delay_us: int = setting(1000, "delay", "between packets, µs")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("slicer average_size_bytes", self.average_size_bytes, 1, 1 << 20, integer=True)
        _check("slicer size_variation_bytes", self.size_variation_bytes, 0, 1 << 20, integer=True)
        _check("slicer delay_us", self.delay_us, 0, 60_000_000, integer=True)
        if self.size_variation_bytes >= self.average_size_bytes and self.size_variation_bytes:
            raise FaultError("slicer size_variation_bytes must be smaller than average_size_bytes")


@dataclass(frozen=True)
class LimitData(Toxic):
    kind: ClassVar[str] = "limit_data"
    bytes: int = setting(0, "bytes", "close the connection once this many bytes passed")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("limit_data bytes", self.bytes, 0, 1 << 40, integer=True)


@dataclass(frozen=True)
class SlowClose(Toxic):
    kind: ClassVar[str] = "slow_close"
    delay_ms: float = setting(1000.0, "delay", "before the close goes through, ms")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("slow_close delay_ms", self.delay_ms, 0, 3_600_000)


TOXICS: dict[str, type[Toxic]] = {
    cls.kind: cls for cls in (Latency, Timeout, ResetPeer, Bandwidth, Slicer, LimitData, SlowClose)
}
