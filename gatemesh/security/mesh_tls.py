"""Which upstream connections a proxy opens in mTLS: those to a peer that said it takes it.

A sidecar in ``permissive`` or ``strict`` mode registers its instance with ``meta.mtls``;
every proxy with a workload identity (a sidecar, the gateway) then dials that address
in TLS, presenting its own leaf and checking the peer's against the trust bundle and
against the service the registry says lives there (``catalog.service.gatemesh.local``,
the DNS SAN beside the SPIFFE URI: Python's ssl checks it as a hostname). Everything
else (a sidecar's own app, an edge-topology app, a peer in ``off`` mode) stays plain.
This is Linkerd's "opportunistic mTLS through discovery", decided once per connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence

from gatemesh.discovery import Endpoint
from gatemesh.security.ca import dns_name
from gatemesh.security.identity import WorkloadIdentity

MTLS_META = "mtls"  # registration meta key a TLS-speaking sidecar sets (its mode)


class MeshTls:
    def __init__(self, identity: WorkloadIdentity) -> None:
        self.identity = identity
        self._names: dict[tuple[str, int], str] = {}
        self.dialled = {"mtls": 0, "plain": 0}  # new upstream connections by kind (status, metrics)

    def update(self, services: Mapping[str, Sequence[Endpoint]]) -> None:
        """Learn from a snapshot which addresses take mTLS, and whose identity they must show."""
        self._names = {
            (ep.host, ep.port): dns_name(service)
            for service, endpoints in services.items()
            for ep in endpoints
            if ep.meta.get(MTLS_META) in ("permissive", "strict")
        }

    def tls_for(self, key: tuple[str, int]) -> tuple[ssl.SSLContext, str] | None:
        name = self._names.get(key)
        context = self.identity.client_context
        if name is None or context is None:
            self.dialled["plain"] += 1
            return None
        self.dialled["mtls"] += 1
        return context, name
