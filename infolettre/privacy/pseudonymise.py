"""IP addresses are never tied to a person: code only ever keeps a truncated or keyed-hash form."""

import hashlib
import hmac
import ipaddress

from django.conf import settings


def truncate_ip(address):
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def keyed_hash(value, purpose):
    """A stable pseudonym of `value` for one purpose; without the key it cannot be reversed."""
    key = hashlib.sha256(f"{settings.SECRET_KEY}:{purpose}".encode()).digest()
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
