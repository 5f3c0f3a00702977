"""Which endpoint URLs a webhook may post to: HTTPS to a public address (no server-side request forgery).

Refused: any scheme but ``https``; credentials in the URL; a host that is ``localhost`` (or ``*.localhost``) or an IP
literal that is not global (private, loopback, link-local — cloud metadata at 169.254.169.254 —, reserved, multicast).
A name is resolved again at each delivery and every address it resolves to must be global, and the connection goes
to the address that was checked (``delivery``), so a name that later points inside the network gets nothing.

For tests and development only, ``YISHI_WEBHOOKS_ALLOW_PRIVATE=1`` (in the environment of the API and the worker)
allows ``http`` and private and loopback addresses, e.g. ``http://127.0.0.1:8080/hook``.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from engine.kernel.errors import InvalidInput

ALLOW_PRIVATE_ENV = "YISHI_WEBHOOKS_ALLOW_PRIVATE"
MAX_URL_LENGTH = 2000


def allow_private() -> bool:
    """Whether ``http`` and private addresses are allowed (tests and development: ``YISHI_WEBHOOKS_ALLOW_PRIVATE``)."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").lower() in ("1", "true", "yes", "on")


def refusal(url: str) -> str | None:
    """Why ``url`` may not be a webhook's endpoint, or None when it may."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "no spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    del port
    private_ok = allow_private()
    if parts.scheme != "https" and not (private_ok and parts.scheme == "http"):
        return "must be an https:// URL"
    if parts.username is not None or parts.password is not None:
        return "no user name or password in the URL"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "a host is needed"
    if parts.fragment:
        return "no fragment (#…)"
    if private_ok:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost is not allowed"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if public(address) else "a private, loopback or link-local address is not allowed"


def public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally reachable unicast address (an IPv4-mapped IPv6 address is judged as the IPv4 one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check(url: str) -> str:
    """The URL if a webhook may post to it; else ``InvalidInput`` naming the field ``url``."""
    why = refusal(url)
    if why is not None:
        raise InvalidInput(f"the webhook's URL is refused: {why}", errors=[{"field": "url", "message": why}])
    return url
