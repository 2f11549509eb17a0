"""Where every component of a topology listens.

A ``PortPlan`` fixes the well-known ports (gateway, its internal and admin listeners, the
control plane, Toxiproxy's API, the observers) and a range the per-instance ports come from.

Per-instance ports are allocated in *slots* of four consecutive ports
(app, Toxiproxy listener, sidecar inbound, sidecar outbound), and an instance's slot
depends only on its service and its number, never on how many other instances exist:
``catalog-2`` gets the same ports whether the topology has 2 catalogs or 20. So a
topology can be scaled at runtime by rebuilding it with new counts, and nothing that
already runs moves. Slots are interleaved across services (slot ``(n-1)*S + k`` for
instance ``n`` of the ``k``-th of ``S`` services), which keeps the default ports small
and readable (``catalog-1`` app on 18000, its proxy on 18001).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TopologyError

#: Ports in one instance slot, in this order.
SLOT_ROLES = ("app", "proxy", "sidecar_inbound", "sidecar_outbound")
SLOT_SIZE = len(SLOT_ROLES)


@dataclass(frozen=True)
class PortPlan:
    """The ports of one running topology; two plans with disjoint ports run side by side."""

    host: str = "127.0.0.1"  # every component listens and is dialled here
    gateway: int = 8080  # the edge: API keys, rate limits, routes
    gateway_internal: int = 8081  # east-west listener of the gateway (edge topology)
    gateway_admin: int = 9901  # the gateway's admin API (/-/*), on a listener of its own: Envoy's admin port
    controlplane: int = 8500  # registry + policies
    toxiproxy: int = 8474  # Toxiproxy's HTTP API (its own default)
    dashboard: int = 8090  # the live dashboard (next to Locust's 8089)
    jaeger_query: int = 16686  # Jaeger's UI and query API (its own default)
    jaeger_grpc: int = 16685  # Jaeger's query gRPC API (its own default; opened by the query extension)
    jaeger_otlp: int = 4318  # Jaeger's OTLP/HTTP receiver (OpenTelemetry's default)
    prometheus: int = 9090  # Prometheus's own default port (bound to `host` here, not every interface)
    range_start: int = 18000  # first per-instance port
    range_end: int = 19000  # one past the last per-instance port

    def __post_init__(self) -> None:
        fixed = self.fixed_ports()
        for name, port in fixed.items():
            if not 1 <= port <= 65535:
                raise TopologyError(f"port plan: {name} port {port} is not between 1 and 65535")
        if len(set(fixed.values())) != len(fixed):
            raise TopologyError(f"port plan: the fixed ports must differ, got {fixed}")
        if not (1 <= self.range_start < self.range_end <= 65536):
            raise TopologyError(f"port plan: instance port range {self.range_start}..{self.range_end - 1} is not valid")
        if self.range_end - self.range_start < SLOT_SIZE:
            raise TopologyError("port plan: the instance port range is too small for one instance")

    @classmethod
    def from_base(cls, base: int, host: str = "127.0.0.1") -> PortPlan:
        """Everything in ``base .. base+999``: the fixed ports keep their last three digits
        (gateway ``base+80``, its admin listener ``base+82``, control plane ``base+500``, Toxiproxy ``base+474``, dashboard
        ``base+90``, Jaeger ``base+86..88``, Prometheus ``base+95``), the
        instances take ``base+100 ..``, skipping the fixed ones."""
        if not isinstance(base, int) or base < 1024 or base + 999 > 65535:
            raise TopologyError(
                f"port base {base!r} must be an integer between 1024 and {65535 - 999} "
                "(the topology uses base .. base+999)"
            )
        return cls(
            host=host,
            gateway=base + 80,
            gateway_internal=base + 81,
            gateway_admin=base + 82,
            controlplane=base + 500,
            toxiproxy=base + 474,
            dashboard=base + 90,
            jaeger_query=base + 86,
            jaeger_grpc=base + 87,
            jaeger_otlp=base + 88,
            prometheus=base + 95,
            range_start=base + 100,
            range_end=base + 1000,
        )

    def fixed_ports(self) -> dict[str, int]:
        return {
            "gateway": self.gateway,
            "gateway_internal": self.gateway_internal,
            "gateway_admin": self.gateway_admin,
            "controlplane": self.controlplane,
            "toxiproxy": self.toxiproxy,
            "dashboard": self.dashboard,
            "jaeger_query": self.jaeger_query,
            "jaeger_grpc": self.jaeger_grpc,
            "jaeger_otlp": self.jaeger_otlp,
            "prometheus": self.prometheus,
        }

    def capacity(self) -> int:
        """How many instance slots the range holds."""
        count = 0
        port = self.range_start
        while port + SLOT_SIZE <= self.range_end:
            if not self._overlaps_fixed(port):
                count += 1
            port += SLOT_SIZE
        return count

    def slot(self, index: int) -> dict[str, int]:
        """The ports of instance slot ``index`` (0-based): ``{"app": p, "proxy": p+1, ...}``."""
        if index < 0:
            raise TopologyError(f"port plan: slot {index} is negative")
        seen = -1
        port = self.range_start
        while port + SLOT_SIZE <= self.range_end:
            if not self._overlaps_fixed(port):
                seen += 1
                if seen == index:
                    return {role: port + i for i, role in enumerate(SLOT_ROLES)}
            port += SLOT_SIZE
        raise TopologyError(
            f"port plan: the instance port range {self.range_start}..{self.range_end - 1} has "
            f"only {self.capacity()} slots of {SLOT_SIZE} ports; scale down or widen the range"
        )

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def address(self, port: int) -> str:
        return f"{self.host}:{port}"

    def _overlaps_fixed(self, first: int) -> bool:
        return any(first <= p < first + SLOT_SIZE for p in self.fixed_ports().values())
