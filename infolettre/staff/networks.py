"""Where a request comes from, and whether that is one of the operator's offices.

The client address is REMOTE_ADDR, unless REMOTE_ADDR is one of our own reverse proxies
(TRUSTED_PROXIES): then it is the right-most X-Forwarded-For entry that is not a trusted proxy,
since every entry left of it was written by someone we cannot vouch for.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=32)
def parse_networks(spec):
    """Read a comma-separated CIDR list ("10.0.0.0/8, ::1/128"); a bare address is its own network."""
    if isinstance(spec, (list, tuple)):
        spec = ",".join(spec)
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _address(value):
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is still an IPv4 client.
    return getattr(address, "ipv4_mapped", None) or address


def in_networks(address, networks):
    return address is not None and any(
        address.version == network.version and address in network for network in networks
    )


def client_address(request):
    """The address of the client who sent this request, as an ip_address (None when unreadable)."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    proxies = parse_networks(settings.TRUSTED_PROXIES)
    if remote is None or not in_networks(remote, proxies):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    address = remote
    for entry in reversed([e for e in forwarded.split(",") if e.strip()]):
        address = _address(entry)
        if address is None:
            # Garbage in the chain: nothing left of it can be trusted either.
            return None
        if not in_networks(address, proxies):
            return address
    # Every hop was one of our proxies: the request began at the left-most of them.
    return address


def client_ip(request):
    """The client address as text ("" when unreadable), for throttling and logs."""
    address = client_address(request)
    return str(address) if address is not None else ""


def from_office(request):
    """Whether the request comes from one of the operator's office networks (OFFICE_NETWORKS)."""
    return in_networks(client_address(request), parse_networks(settings.OFFICE_NETWORKS))
