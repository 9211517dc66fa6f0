"""Outbound HTTP for nodes, behind the SSRF guard.

A flow spec is written by an org's users, and the worker that runs it sits inside the
installation's network: a node must not become a way to reach the worker's loopback, the private
network or the cloud's metadata service. Every request (and every redirect hop) is checked by
resolving its host and refusing loopback, private, link-local, reserved and metadata addresses,
unless the host allows them (`DAGY_ALLOW_PRIVATE_NETWORK=true`: tests, on-premises services).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from dagy.nodes.base import NodeContext, NodeError

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


def blocked_reason(url: str, *, allow_private: bool) -> str | None:
    """Why a request to `url` is refused, or None when it may go."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are allowed, not {parts.scheme or 'a relative URL'!r}"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if allow_private:
        return None
    if host.lower().rstrip(".") in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    return _address_problem(host, parts.port or (443 if parts.scheme == "https" else 80))


def _address_problem(host: str, port: int) -> str | None:
    _addresses, problem = resolve_allowed(host, port)
    return problem


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The metadata service of the big clouds (AWS, GCP, Azure, OpenStack; AWS's IPv6 one).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


def address_kind(address: IPAddress) -> str | None:
    """What makes `address` unreachable for a guarded request (`metadata`, `loopback`,
    `unspecified`, `link-local`, `private`, `multicast`, `reserved`), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("metadata", address in METADATA_ADDRESSES),
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", not address.is_global),
    )
    return next((kind for kind, matched in checks if matched), None)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without DNS, in every spelling a resolver accepts: `127.0.0.1`,
    `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, `::1`; None for a name."""
    host = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def static_problem(url: str, *, allow_private: bool) -> str | None:
    """What the guard can refuse in `url` without DNS (scheme, host, `localhost`, a metadata name,
    an address literal in any spelling); a name's addresses are checked when it is requested."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are allowed, not {parts.scheme or 'a relative URL'!r}"
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return "the URL has no host"
    if allow_private:
        return None
    if host in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback address"
    address = literal_address(host)
    kind = address_kind(address) if address is not None else None
    return f"{host} is {address}, a {kind} address" if kind is not None else None


def resolve_allowed(host: str, port: int) -> tuple[list[str], str | None]:
    """The addresses `host` resolves to, and why they may not be reached (None: every one is
    public). A caller that connects to one of these addresses itself (instead of resolving the name
    again) cannot be turned to a private address by a DNS answer that changes in between."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return [], f"{host} does not resolve ({exc.strerror})"
    addresses: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        kind = address_kind(address)
        if kind is not None:
            return [], f"{host} resolves to {address}, a {kind} address"
        addresses.append(str(address))
    return list(dict.fromkeys(addresses)), None


def check_url(url: str, context: NodeContext) -> None:
    reason = blocked_reason(url, allow_private=context.settings.allow_private_network)
    if reason is not None:
        raise ssrf_refusal(f"Request refused by the SSRF guard: {reason}.")


def ssrf_refusal(message: str) -> NodeError:
    """A request the SSRF guard refused: the same on every try, so not retried; the message says
    how a worker's operator lets nodes reach such addresses."""
    return NodeError(
        "blocked_url",
        f"{message} A worker lets nodes reach loopback, private and link-local addresses with "
        "DAGY_ALLOW_PRIVATE_NETWORK=true (on-premises services, tests).",
        retryable=False,
    )


def http_client(context: NodeContext, *, timeout: float = 30.0, **kwargs: object) -> httpx.Client:
    """An httpx client whose every request, redirects included, passes the SSRF guard."""

    def guard(request: httpx.Request) -> None:
        check_url(str(request.url), context)

    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        event_hooks={"request": [guard]},
        headers={"User-Agent": "dagy-runtime"},
        **kwargs,  # type: ignore[arg-type]
    )
