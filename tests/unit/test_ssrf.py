"""The address rules applied to every IPv4 address an IPv6 address carries, under the widest allowlist."""

from __future__ import annotations

import ipaddress

import pytest

from callsense.backends.recordings.ssrf import AddressPolicy
from callsense.errors import AddressRefusedError

HOST = "recorder.corp.example"
# Everything that can be allowlisted is: the host by name, and every address short of an exact /32 or /128.
WIDEST = AddressPolicy.build(allow_hosts=[HOST], allow_networks=["0.0.0.0/0", "::/0"])


@pytest.mark.parametrize(
    ("address", "carried", "kind"),
    [
        ("2002:a9fe:a9fe::", "169.254.169.254", "cloud metadata"),  # 6to4
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "cloud metadata"),  # NAT64 well-known prefix
        ("64:ff9b::6464:64c8", "100.100.100.200", "cloud metadata"),
        ("64:ff9b:1::a9fe:a9fe", "169.254.169.254", "cloud metadata"),  # NAT64 local use, /96
        ("64:ff9b:1:a9fe:a9:fe00::", "169.254.169.254", "cloud metadata"),  # ... /48
        ("64:ff9b:1:a9:fe:a9fe::", "169.254.169.254", "cloud metadata"),  # ... /56
        ("64:ff9b:1:0:a9:fea9:fe00:0", "169.254.169.254", "cloud metadata"),  # ... /64
        ("::a9fe:aa02", "169.254.170.2", "cloud metadata"),  # IPv4-compatible
        ("2001:0:a9fe:a9fe::", "169.254.169.254", "cloud metadata"),  # Teredo server
        ("2001:0:808:808:0:0:5601:5601", "169.254.169.254", "cloud metadata"),  # Teredo client (inverted)
        ("2002::", "0.0.0.0", "unspecified"),
        ("64:ff9b::", "0.0.0.0", "unspecified"),
        ("::e000:1", "224.0.0.1", "multicast"),  # IPv4-compatible
        ("2002:e000:1::", "224.0.0.1", "multicast"),
        ("64:ff9b::efff:fffa", "239.255.255.250", "multicast"),
    ],
)
def test_always_refused_inside_ipv6_under_the_widest_allowlist(address: str, carried: str, kind: str) -> None:
    with pytest.raises(AddressRefusedError, match=rf"which carries {carried}, a {kind} address"):
        WIDEST.check(HOST, ipaddress.ip_address(address))


def test_an_exact_entry_still_opens_a_wrapped_metadata_address() -> None:
    AddressPolicy.build(allow_networks=["2002:a9fe:a9fe::/128"]).check(
        HOST, ipaddress.ip_address("2002:a9fe:a9fe::")
    )


@pytest.mark.parametrize("address", ["fec0::1", "feff:ffff::1"])
def test_site_local_is_refused_unless_allowlisted(address: str) -> None:
    with pytest.raises(AddressRefusedError, match="a site-local address"):
        AddressPolicy().check(HOST, ipaddress.ip_address(address))
    AddressPolicy.build(allow_hosts=[HOST]).check(HOST, ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("64:ff9b:1:0:a:102:e600:0", "10.1.2.230"),  # a /64 reading, not 230.0.0.0 as a /96 reading would be
        ("64:ff9b:1:a01:2:e600::", "10.1.2.230"),  # a /48 reading, not the /96 padding 0.0.0.0
    ],
)
def test_local_nat64_is_read_at_the_prefix_length_it_fits(address: str, carried: str) -> None:
    AddressPolicy.build(allow_hosts=[HOST]).check(HOST, ipaddress.ip_address(address))
    with pytest.raises(AddressRefusedError, match=rf"which carries {carried}, a private address"):
        AddressPolicy().check(HOST, ipaddress.ip_address(address))
