"""Which addresses an instance may register: the topology's networks, never a trap.

The registry hands addresses to every proxy, which then connects to them on a client's
behalf; an address is therefore a capability, not a label. A registration (or a
heartbeat's address) is admitted only when its host is a literal IP inside one of the
allowed networks (loopback by default; the compose network in compose), or a hostname
on the allowed list (compose's service names), and it is none of the control plane's
forbidden addresses (the Toxiproxy API, the control plane itself). Whatever the allowed
networks say, these stay refused, each under the rule's name the 403 gives:

- ``link-local``: 169.254.0.0/16 and fe80::/10, where clouds serve instance metadata;
- ``unspecified``: 0.0.0.0 and ::, which reach "this host" on every interface;
- ``multicast`` / ``broadcast``: not one host;
- ``forbidden-address``: an address on the forbidden list, e.g. the Toxiproxy API;
- ``foreign-host``: a hostname not on the allowed list (example.com), or an IP outside
  the allowed networks (192.0.2.1 in a loopback-only topology).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from gatemesh.address import split_address

LOOPBACK = ("127.0.0.0/8", "::1/128")  # the local runner's networks: every process is on this host
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


class AddressRefused(ValueError):
    """An address the rules do not admit; ``rule`` names the rule (the 403 says it)."""

    def __init__(self, rule: str, sentence: str) -> None:
        super().__init__(sentence)
        self.rule = rule


@dataclass(frozen=True)
class AddressRules:
    # Loopback only: the local runner's processes all listen on 127.0.0.1 (compose adds its network).
    networks: tuple[str, ...] = LOOPBACK
    # No hostname by default: a name is resolved by whoever connects, so it can point anywhere later.
    hostnames: tuple[str, ...] = ()
    # The runner adds the Toxiproxy API and the control plane: a proxy must never be pointed at either.
    forbidden: tuple[str, ...] = ()
    _nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(init=False, repr=False, compare=False)
    _forbidden: frozenset[tuple[str, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            nets = tuple(ipaddress.ip_network(n, strict=False) for n in self.networks)
        except ValueError as exc:
            raise ValueError(f"address rules: an allowed network is not a CIDR block ({exc}).") from None
        forbidden = set()
        for address in self.forbidden:
            host, port = split_address(address)
            forbidden.add((_canonical(host), port))
        object.__setattr__(self, "_nets", nets)
        object.__setattr__(self, "_forbidden", frozenset(forbidden))

    def check(self, address: str) -> None:
        """Raise ``AddressRefused`` naming the rule when ``address`` may not be registered."""
        host, port = split_address(address)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is None:
            if host.lower() not in {h.lower() for h in self.hostnames}:
                allowed = ", ".join(self.hostnames) or "none: give an IP address"
                raise AddressRefused(
                    "foreign-host",
                    f"address {address!r} is refused (rule foreign-host): hostname {host!r} is not "
                    f"one of the topology's hosts ({allowed}).",
                )
        else:
            self._check_ip(address, ip)
        if (_canonical(host), port) in self._forbidden:
            raise AddressRefused(
                "forbidden-address",
                f"address {address!r} is refused (rule forbidden-address): it is one of the mesh's own "
                f"control endpoints (Toxiproxy API or control plane), never a service.",
            )

    def _check_ip(self, address: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        if any(ip in net for net in LINK_LOCAL if net.version == ip.version):
            raise AddressRefused(
                "link-local",
                f"address {address!r} is refused (rule link-local): link-local addresses "
                "(169.254.0.0/16, fe80::/10) hold cloud metadata services, never a mesh instance.",
            )
        if ip.is_unspecified:
            raise AddressRefused("unspecified", f"address {address!r} is refused (rule unspecified): name one host.")
        if ip.is_multicast or (ip.version == 4 and str(ip) == "255.255.255.255"):
            raise AddressRefused(
                "multicast",
                f"address {address!r} is refused (rule multicast): a multicast or broadcast "
                "address is not one instance.",
            )
        if not any(ip in net for net in self._nets if net.version == ip.version):
            raise AddressRefused(
                "foreign-host",
                f"address {address!r} is refused (rule foreign-host): it is outside the "
                f"topology's networks ({', '.join(self.networks)}).",
            )


def _canonical(host: str) -> str:
    """One spelling per host, so '127.000.0.1'-style tricks cannot dodge the forbidden list."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()
