"""Webhook URLs that would reach a cloud metadata service or the local link.

Anam's servers call a SERVER_WEBHOOK tool's URL. One pointing at 169.254.169.254
or metadata.google.internal asks the cloud provider's metadata service (which
hands out credentials) on whatever machine makes the call. Only literal
addresses and the well-known metadata host names are checked: no DNS at
validate time. Literal IPv4 is read as browsers and Node read URLs (WHATWG),
so `http://2852039166/` and `http://0xa9.0376.43518/` are 169.254.169.254 too.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
_LINK_LOCAL_V6 = ipaddress.IPv6Network("fe80::/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Metadata services outside the link-local ranges (Alibaba Cloud, AWS over IPv6).
_METADATA_ADDRESSES = {
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}


def _ipv4_number(part: str) -> int | None:
    """One dotted part as the WHATWG URL parser reads it: decimal, 0x hex or 0 octal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a URL parser makes of `host`, or None if it is a host name."""
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # one trailing dot is allowed
    if not parts or len(parts) > 4:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if ":" in host:
        try:
            v6 = ipaddress.IPv6Address(host.split("%", 1)[0])  # drop a zone id
        except ValueError:
            return None
        if v6.ipv4_mapped is not None:
            return v6.ipv4_mapped
        if v6 in _NAT64:
            return ipaddress.IPv4Address(int(v6) & 0xFFFFFFFF)
        return v6
    return parse_ipv4(host)


def link_local_reason(url: str) -> str | None:
    """Why `url` reaches a metadata service or the local link, or None if it does not."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None  # not a URL: the schema says so
    if not host:
        return None
    host = host[:-1] if host.endswith(".") else host  # the root label
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata host"
    addr = _address(host)
    if addr is None:
        return None
    if addr in _METADATA_ADDRESSES:
        return f"{host} is a cloud metadata address"
    if addr in _LINK_LOCAL_V4 or addr in _LINK_LOCAL_V6:
        shown = host if str(addr) == host else f"{host} ({addr})"
        net = _LINK_LOCAL_V4 if addr.version == 4 else _LINK_LOCAL_V6
        return f"{shown} is a link-local address ({net}), where cloud metadata services live"
    return None
