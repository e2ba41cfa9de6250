"""Which proxy, if any, a recording's requests go through: the one the environment names.

Recording gives the SDK an HTTP client built on harness's own transport (per-thread pools, the
capture of each exchange), and an httpx client given a transport reads no proxy variable. So the
environment's proxies are looked up here, by the standard library's rules (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY`` in either case, ``NO_PROXY`` exemptions), and handed to the pool.

A loopback host (``localhost``, 127.0.0.0/8, ``::1``) never goes through a proxy, as Go's HTTP
client rules: a proxy cannot reach the machine's own loopback, and a local model server or a test
server must stay reachable on a machine whose proxy variables forgot to exempt it.
"""

from __future__ import annotations

import ipaddress
import urllib.request
from urllib.parse import urlsplit


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def proxy_for(url: str) -> str | None:
    """The proxy URL for requests to ``url``, or None to connect directly."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or _loopback(host):
        return None
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    # proxy_bypass_environment reads no_proxy from the same mapping (host, or host:port); it is in
    # every CPython 3 but not in typeshed's stubs.
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(parts.netloc.rpartition("@")[2], proxies):
        return None
    return proxy
