"""The one outbound HTTP request of a webhook, and the rules an endpoint's address must follow.

An endpoint is a URL the client typed: left alone, it could make our servers call their own
private network (server-side request forgery). Unless WEBHOOKS_ALLOW_PRIVATE_URLS is on, an address
must be https and its host must resolve to public addresses only, when it is saved and again at
the moment of each connection (the address actually connected to is checked, so a DNS answer that
changes between the two cannot slip through). http.client is used directly rather than
urllib.request: it follows no redirect, so a 3xx can never lead the request elsewhere.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import UnsafeUrl

TIMEOUT_SECONDS = 10
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def private_urls_allowed():
    return getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_URLS", False)


def is_public_address(address):
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolved(host, port):
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(_("The address's host cannot be found.")) from None
    return {info[4][0] for info in infos}


def check_endpoint_url(url):
    """Return the address if webhooks may be sent to it, else raise UnsafeUrl saying why."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl(
            _("Enter a complete address, such as https://example.com/webhooks.")
        ) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or len(url) > 500:
        raise UnsafeUrl(_("Enter a complete address, such as https://example.com/webhooks."))
    if parts.username or parts.password:
        raise UnsafeUrl(_("Put no user name or password in the address."))
    if parts.scheme == "http" and not (
        settings.DEBUG or (private_urls_allowed() and host in LOOPBACK_NAMES)
    ):
        raise UnsafeUrl(_("The address must begin with https://."))
    if not private_urls_allowed():
        addresses = _resolved(host, port or 443)
        if not addresses or not all(is_public_address(a) for a in addresses):
            raise UnsafeUrl(_("The address leads to a private network."))
    return url


@dataclass(frozen=True)
class Answer:
    status: int | None  # None when no HTTP answer came back
    error: str  # empty on a 2xx


def _guarded_connect(address, timeout=None, source_address=None, **kwargs):
    """Open the TCP connection, then refuse it if the peer is not a public address."""
    sock = socket.create_connection(address, timeout, source_address, **kwargs)
    if not private_urls_allowed() and not is_public_address(sock.getpeername()[0]):
        sock.close()
        raise UnsafeUrl(_("The address leads to a private network."))
    return sock


def post(url, body, headers):
    """POST `body` to `url`; return the answer's status, or the error that stopped the request."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname,
            parts.port,
            timeout=TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_SECONDS)
    connection._create_connection = _guarded_connect
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(200).decode("utf-8", "replace")
    except UnsafeUrl as e:
        return Answer(None, str(e.message))
    except (OSError, http.client.HTTPException) as e:
        return Answer(None, _one_line(f"{type(e).__name__}: {e}"))
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Answer(response.status, "")
    return Answer(response.status, _one_line(f"HTTP {response.status}: {excerpt}"))


def _one_line(text):
    return " ".join(text.replace("\x00", "").split())[:300]
