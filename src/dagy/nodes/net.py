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
    try:
        infos = socket.getaddrinfo(host, port)
    except socket.gaierror as exc:
        return f"{host} does not resolve ({exc.strerror})"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            return f"{host} resolves to {address}, a loopback, private, link-local or reserved address"
    return None


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
