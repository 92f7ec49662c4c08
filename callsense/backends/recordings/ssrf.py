"""Which addresses a recording may be downloaded from: the guard against server-side request forgery.

A recording URL comes from outside (a webhook), so it could name an internal service or the cloud metadata
endpoint. Before any connection, the host is resolved once and every address it resolves to is checked; the
download then connects to one of those checked addresses (``http.py``) and never resolves the name again.

Refused unless allowlisted: loopback, private (RFC 1918, fc00::/7), link-local, site-local (fec0::/10), shared
(CGNAT 100.64/10), reserved and every other non-global range. Always refused: unspecified (0.0.0.0, ::) and
multicast addresses; cloud metadata addresses unless the exact address (/32, /128) is allowlisted, so a broad
169.254.0.0/16 does not open them. Every rule applies as well to each IPv4 address an IPv6 address carries
(IPv4-mapped and -compatible, 6to4, Teredo server and client, NAT64 64:ff9b::/96 and 64:ff9b:1::/48), so an
allowlisted host cannot reach the metadata endpoint through a translator.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from callsense.errors import AddressRefusedError, FetchError, PermanentFetchError

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
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, but is_global is True for it
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: the operator picks a prefix length in it
# RFC 6052: where the IPv4 address sits after a /48, /56 or /64 prefix (start, stop of each part; bits 64-71,
# the "u" octet, are always zero). After a /96 prefix it is the last 32 bits.
NAT64_LAYOUTS = ((48, 64, 72, 88), (56, 64, 72, 96), (72, 104))
ALWAYS_REFUSED = frozenset({"unspecified", "multicast"})


@dataclass(frozen=True)
class Finding:
    """Why an address is not public: its kind, on the address itself or on an IPv4 address it carries."""

    kind: str
    carried: ipaddress.IPv4Address | None = None

    def __str__(self) -> str:
        return self.kind if self.carried is None else f"{self.kind} (wrapped in IPv6)"


def unwrap(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it carries."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _bits(value: int, start: int, stop: int) -> int:
    """Bits ``start`` to ``stop`` (exclusive) of a 128-bit address, counted from the most significant."""
    return (value >> (128 - stop)) & ((1 << (stop - start)) - 1)


def _nat64_local(value: int) -> ipaddress.IPv4Address:
    """The IPv4 address in a local-use NAT64 address, whose prefix length the address does not tell.

    Read at the shortest prefix length whose suffix (and "u" octet) are zero, as RFC 6052 writes them, else
    as after a /96. A longer prefix can hide behind a shorter reading only when its IPv4 address ends in a
    zero octet, as no metadata address does."""
    if _bits(value, 64, 72) == 0:
        for spans in NAT64_LAYOUTS:
            if _bits(value, spans[-1], 128) == 0:
                number = 0
                for start, stop in zip(spans[0::2], spans[1::2], strict=True):
                    number = (number << (stop - start)) | _bits(value, start, stop)
                return ipaddress.IPv4Address(number)
    return ipaddress.IPv4Address(value & 0xFFFFFFFF)


def _carried(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries or routes to, checked like the address itself."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    value = int(ip)
    found: list[ipaddress.IPv4Address] = []
    if value >> 32 == 0 and value > 1:  # IPv4-compatible ::a.b.c.d (:: and ::1 are their own kinds)
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if ip in NAT64_LOCAL:
        found.append(_nat64_local(value))
    return found


def _kind(ip: IPAddress) -> str | None:
    """What kind of non-public address this is, judged on the address alone."""
    if ip in METADATA:
        return "cloud metadata"
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip in SITE_LOCAL, "site-local"),
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


def findings(ip: IPAddress) -> list[Finding]:
    """Every reason to refuse ``ip``: metadata first, then what it carries, then its own range."""
    ip = unwrap(ip)
    found = [Finding(kind, carried) for carried in _carried(ip) if (kind := _kind(carried)) is not None]
    own = _kind(ip)
    if own is None:
        return found
    return [Finding(own), *found] if own == "cloud metadata" else [*found, Finding(own)]


def refusal(ip: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public unicast address."""
    found = findings(ip)
    return str(found[0]) if found else None


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
        for finding in findings(ip):
            if not self._allows(host, ip, finding):
                where = f"{ip}" if finding.carried is None else f"{ip}, which carries {finding.carried}"
                raise AddressRefusedError(
                    f"refusing to download from {host}: it resolves to {where}, a {finding.kind} address "
                    "(allowlist it in fetch.allow_networks or fetch.allow_hosts if it is your recorder)"
                )

    def _allows(self, host: str, ip: IPAddress, finding: Finding) -> bool:
        if finding.kind == "cloud metadata":
            return any(net.prefixlen == net.max_prefixlen and ip in net for net in self.allow_networks)
        if finding.kind in ALWAYS_REFUSED:
            return False
        return normalise_host(host) in self.allow_hosts or any(ip in net for net in self.allow_networks)

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
