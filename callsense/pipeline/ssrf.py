"""Which addresses a recording may be downloaded from: the guard against server-side request forgery.

A recording URL comes from outside (a webhook), so it could name an internal service or the cloud metadata
endpoint. Before any connection, the host is resolved once and every address it resolves to is checked; the
download then connects to one of those checked addresses (``fetch.py``) and never resolves the name again.

Refused unless allowlisted: loopback, private (RFC 1918, fc00::/7), link-local, shared (CGNAT 100.64/10),
reserved and every other non-global range, also when wrapped in IPv6 (::ffff:a.b.c.d, 6to4, Teredo, NAT64).
Always refused: unspecified (0.0.0.0, ::) and multicast addresses; cloud metadata addresses unless the exact
address (/32, /128) is allowlisted, so a broad 169.254.0.0/16 does not open them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from callsense.errors import FetchError, PermanentFetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; is_private is False for it
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefusedError(PermanentFetchError):
    """The URL's host is, or resolves to, an address callsense does not download from."""


def unwrap(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it carries."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _embedded(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address routes to (6to4, Teredo, NAT64), checked like the address itself."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def refusal(ip: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public unicast address."""
    ip = unwrap(ip)
    if ip in METADATA:
        return "cloud metadata"
    for inner in _embedded(ip):
        wrapped = refusal(inner)
        if wrapped is not None:
            return f"{wrapped} (wrapped in IPv6)"
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in SHARED, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),
    )
    for matched, kind in checks:
        if matched:
            return kind
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """The allowlist: exact host names and networks that may be non-public (an on-premises recorder)."""

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, *, allow_hosts: Iterable[str] = (), allow_networks: Iterable[str] = ()) -> AddressPolicy:
        return cls(
            allow_hosts=frozenset(normalise_host(host) for host in allow_hosts if host.strip()),
            allow_networks=tuple(ipaddress.ip_network(net.strip(), strict=False) for net in allow_networks),
        )

    def check(self, host: str, ip: IPAddress) -> None:
        """Raise ``AddressRefusedError`` unless ``host`` may be reached at ``ip``."""
        ip = unwrap(ip)
        kind = refusal(ip)
        if kind is None:
            return
        if ip in METADATA:
            allowed = any(net.prefixlen == net.max_prefixlen and ip in net for net in self.allow_networks)
        elif kind in {"unspecified", "multicast"}:
            allowed = False
        else:
            allowed = normalise_host(host) in self.allow_hosts or any(
                ip in net for net in self.allow_networks
            )
        if not allowed:
            raise AddressRefusedError(
                f"refusing to download from {host}: it resolves to {ip}, a {kind} address "
                "(allowlist it in fetch.allow_networks or fetch.allow_hosts if it is your recorder)"
            )

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, all checked: one refused address refuses the host."""
        if not host:
            raise PermanentFetchError("the URL has no host")
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError as exc:
            raise PermanentFetchError(f"invalid host name {host!r}") from exc
        except OSError as exc:  # socket.gaierror: unknown name, or DNS unreachable for now
            raise FetchError(f"cannot resolve {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canonical, sockaddr in infos:
            ip = unwrap(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise FetchError(f"{host} resolves to no address")
        for ip in addresses:
            self.check(host, ip)
        return addresses


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, IDNA (punycode) form: how host names are compared."""
    host = host.strip().rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host
