"""The one fault API: network, process and app faults on a running topology, the same
for every runner.

    from gatemesh.faults import Faults, Window, FirstCalls, Flapping

    faults = Faults.for_runner(runner)       # an in-process ProcessRunner (tests)
    faults = Faults.for_run("demo")          # a `gatemesh up --name demo` run (CLI, Locust)

    # network faults, through the real Toxiproxy (one proxy per instance, named after it)
    f = faults.latency("pricing-1", ms=2000, jitter_ms=100)            # answers delayed
    faults.latency("pricing-1", ms=500, stream="upstream", toxicity=0.5)  # half the connections
    faults.timeout("catalog-1")                  # black hole: no data, connection held open
    faults.reset_peer("orders-1", timeout_ms=0)  # TCP RST
    faults.bandwidth("reviews-1", rate_kbps=1)
    faults.slicer("reviews-1", average_size_bytes=1, delay_us=2000)
    faults.limit_data("orders-1", bytes=1)       # the answer is cut after 1 byte
    faults.down("reviews-1")                     # proxy disabled: connections refused
    f.remove()                                   # or: with faults.latency(...): ...

    # app faults: the services' /admin/misbehave knob (seeded: the same failures each run)
    faults.misbehave("pricing-2", error_rate=1.0, error_status=503, delay_ms=0, seed=42)

    # process faults, by component name (instances, sidecar-*, controlplane, gateway, toxiproxy)
    k = faults.kill("catalog-2")                 # kill -9; k.remove() restarts it
    with faults.pause("controlplane"):           # SIGSTOP ... SIGCONT
        ...
    faults.restart("sidecar-pricing-1")

    # schedules (network and app faults): when the fault is in force
    faults.latency("catalog-1", ms=3000, schedule=Window(start_s=5, end_s=15))
    faults.misbehave("orders-1", error_status=503, schedule=FirstCalls(3))
    faults.down("reviews-1", schedule=Flapping(period_s=1, on_probability=0.3, seed=7, duration_s=20))

    faults.calls("catalog-1")                    # requests its app received (/admin/stats)
    faults.list()                                # every fault in force, read from the live system
    faults.reset()                               # everything off; paused resumed, killed restarted

Network faults hurt every caller alike: the gateway and the sidecars both dial an
instance through its Toxiproxy proxy. Process faults go through a backend
(``backends.ProcessBackend``: the in-process runner, or a ``gatemesh up`` supervisor; a
docker compose backend implements the same five methods). Every error is a
``FaultError`` whose message is one sentence (an unknown name lists the known ones).
"""

from .apps import Misbehave
from .backends import Member, ProcessBackend, RunnerBackend, SupervisorBackend
from .errors import FaultError
from .injector import Fault, Faults
from .network import ToxiproxyClient
from .schedule import Always, FirstCalls, Flapping, Schedule, Scheduler, Window
from .toxics import TOXICS, Bandwidth, Latency, LimitData, ResetPeer, Slicer, SlowClose, Timeout, Toxic

__all__ = [
    "TOXICS",
    "Always",
    "Bandwidth",
    "Fault",
    "FaultError",
    "Faults",
    "FirstCalls",
    "Flapping",
    "Latency",
    "LimitData",
    "Member",
    "Misbehave",
    "ProcessBackend",
    "ResetPeer",
    "RunnerBackend",
    "Schedule",
    "Scheduler",
    "Slicer",
    "SlowClose",
    "SupervisorBackend",
    "Timeout",
    "ToxiproxyClient",
    "Toxic",
    "Window",
]
