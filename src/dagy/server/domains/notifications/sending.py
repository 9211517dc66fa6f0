"""Sending one alert message to one channel: the message, and Slack, email, webhook and PagerDuty.

Outgoing HTTP goes through the SSRF guard of `dagy.nodes.net` at delivery time: the host is
resolved once, every address checked, and the request sent to the checked address (TLS still
verifies the name), so a DNS answer that changes between the check and the connection cannot
turn a delivery to a private address; every redirect is checked the same way. The payload and
signing rules are those of the notification nodes (`dagy.nodes.notification`, `dagy.nodes.smtp`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from dagy.nodes.base import NodeContext, NodeError
from dagy.nodes.net import resolve_allowed, static_problem
from dagy.nodes.notification import PAGERDUTY_SUMMARY_LIMIT, SIGNATURE_HEADER, as_json_bytes, signature
from dagy.server.domains.notifications.channels import PAGERDUTY_EVENTS_URL
from dagy.server.settings import Settings

log = logging.getLogger("dagy.server.alerts")

MAX_REDIRECTS = 3
_ERROR_EXCERPT = 300
_HEADLINES = {
    "on_failure": "failed",
    "on_success": "completed",
    "on_retry": "failed and will be retried",
    "on_sla_breach": "is past its SLA",
    "on_waiting": "is waiting for an approval",
    "resolve": "completed",
    "test": "test notification",
}


class DeliveryFailed(Exception):
    """A delivery that did not reach its receiver; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """What every channel says of one event."""

    event: str
    facts: Mapping[str, Any]
    link: str
    delivery_id: str

    @property
    def title(self) -> str:
        facts = self.facts
        headline = _HEADLINES.get(self.event, self.event)
        if self.event == "on_sla_breach" and facts.get("sla_seconds"):
            headline += f" of {facts['sla_seconds']} s"
        return (
            f"[Dagy] {facts.get('flow_name')}: run {facts.get('run_slug') or facts.get('run_id')} {headline}"
        )

    @property
    def text(self) -> str:
        facts = self.facts
        lines = [
            self.title,
            f"Flow: {facts.get('flow_name')} (version {facts.get('flow_version')})",
            f"Run: {facts.get('run_id')}",
            f"Status: {facts.get('status')} (attempt {facts.get('attempt')})",
            f"Duration: {_duration(facts.get('duration_seconds'))}",
        ]
        if facts.get("error"):
            lines.append(f"Error: {facts['error']}")
        waiting = facts.get("waiting_for")
        if isinstance(waiting, Mapping):
            lines.append(f"Approval of node {waiting.get('node_id')}: {waiting.get('message')}")
            lines.append(f"Decide by {waiting.get('timeout_at')} (then: {waiting.get('on_timeout')})")
        lines.append(f"Open the run: {self.link}")
        return "\n".join(lines)

    def document(self) -> dict[str, Any]:
        """The JSON a webhook receives."""
        return {
            "delivery_id": self.delivery_id,
            "event": self.event,
            **dict(self.facts),
            "url": self.link,
            "message": self.title,
        }


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "not started"
    value = float(seconds)
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def run_link(settings: Settings, run_id: str) -> str:
    base = settings.public_url.rstrip("/") or settings.own_url()
    return f"{base}/runs/{run_id}"


def send(channel_type: str, config: Mapping[str, Any], message: Message, settings: Settings) -> None:
    """Deliver `message`; raise `DeliveryFailed` saying why not."""
    sender = _SENDERS[channel_type]
    sender(config, message, settings)


# --- HTTP channels ---------------------------------------------------------------------------


def _send_slack(config: Mapping[str, Any], message: Message, settings: Settings) -> None:
    body: dict[str, Any] = {"text": message.text}
    if config.get("channel"):
        body["channel"] = config["channel"]
    _post(str(config["webhook_url"]), as_json_bytes(body), {}, settings, what="Slack")


def _send_webhook(config: Mapping[str, Any], message: Message, settings: Settings) -> None:
    body = as_json_bytes(message.document())
    headers = {**dict(config.get("headers") or {}), "X-Dagy-Event": message.event}
    headers["X-Dagy-Delivery"] = message.delivery_id
    if config.get("secret"):
        headers[SIGNATURE_HEADER] = signature(str(config["secret"]), body, int(time.time()))
    _post(str(config["url"]), body, headers, settings, what="The webhook")


def _send_pagerduty(config: Mapping[str, Any], message: Message, settings: Settings) -> None:
    """Events API v2: `trigger` with the run id as `dedup_key`; `resolve` closes that incident."""
    run_id = str(message.facts.get("run_id"))
    event: dict[str, Any] = {"routing_key": config["routing_key"], "dedup_key": run_id}
    if message.event == "resolve":
        event["event_action"] = "resolve"
    else:
        event["event_action"] = "trigger"
        event["payload"] = {
            "summary": message.title[:PAGERDUTY_SUMMARY_LIMIT],
            "source": "dagy",
            "severity": config.get("severity") or "error",
            "custom_details": dict(message.facts),
        }
        event["links"] = [{"href": message.link, "text": "The run in Dagy"}]
    url = str(config.get("events_url") or PAGERDUTY_EVENTS_URL)
    _post(url, as_json_bytes(event), {}, settings, what="PagerDuty")


def _post(url: str, body: bytes, headers: dict[str, str], settings: Settings, *, what: str) -> None:
    """POST `body` to `url`, following at most `MAX_REDIRECTS` redirects, each hop through the
    guard. A 2xx answer is delivered; anything else raises. The URL stays out of messages: a Slack
    URL is a credential."""
    headers = {"Content-Type": "application/json", "User-Agent": "dagy-alerts", **headers}
    for _hop in range(MAX_REDIRECTS + 1):
        target, extensions, host_header = _pinned(url, allow_private=settings.allow_private_network)
        client = _client(urlsplit(url).hostname or "", settings.alerts.timeout_seconds)
        try:
            response = client.post(
                target, content=body, headers={**headers, "Host": host_header}, extensions=extensions
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{what} could not be reached: {type(exc).__name__}: {exc}") from None
        if response.is_redirect and "location" in response.headers:
            url = urljoin(url, response.headers["location"])
            continue
        if response.is_success:
            return
        raise DeliveryFailed(f"{what} answered HTTP {response.status_code}: {_excerpt(response)}")
    raise DeliveryFailed(f"{what} redirected more than {MAX_REDIRECTS} times")


_clients: OrderedDict[tuple[str, float], httpx.Client] = OrderedDict()
_clients_lock = threading.Lock()
MAX_CLIENTS = 64


def _client(hostname: str, timeout: float) -> httpx.Client:
    """A pooled client per receiving host name (building one costs ~20 ms of CPU for its TLS
    context): its connections, opened to a checked address under that name's TLS identity, are
    never reused for another name. The least recently used beyond `MAX_CLIENTS` are closed."""
    key = (hostname.lower(), timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        _clients[key] = client
        while len(_clients) > MAX_CLIENTS:
            _key, oldest = _clients.popitem(last=False)
            oldest.close()
        return client


def _pinned(url: str, *, allow_private: bool) -> tuple[str, dict[str, Any], str]:
    """(URL to request, httpx extensions, Host header): the URL with its host replaced by the one
    checked address it resolved to, and TLS told the real name."""
    problem = static_problem(url, allow_private=allow_private)
    if problem is not None:
        raise DeliveryFailed(f"refused by the SSRF guard: {problem}", permanent=True)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host_header = parts.netloc.rpartition("@")[2]
    if allow_private:
        return url, {}, host_header
    addresses, problem = resolve_allowed(host, port)
    if problem is not None:
        raise DeliveryFailed(f"refused by the SSRF guard: {problem}", permanent=True)
    address = addresses[0]
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return target, {"sni_hostname": host}, host_header


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip()
    return text if len(text) <= _ERROR_EXCERPT else text[:_ERROR_EXCERPT] + "…"


# --- Email -----------------------------------------------------------------------------------


def _send_email(config: Mapping[str, Any], message: Message, settings: Settings) -> None:
    """Through the `email_send` node's SMTP code: the channel's own server when it names
    `smtp_host`, else the installation's (DAGY_SMTP_URL, or DAGY_SMTP_HOST and its fields)."""
    from dagy.nodes.smtp import deliver, email_message, smtp_server  # noqa: PLC0415 - smtplib on first email

    context = NodeContext(
        run_id=str(message.facts.get("run_id")),
        node_id="alert",
        params={},
        logger=log,
        flow_name=str(message.facts.get("flow_name")),
        settings=settings.host_settings(),
    )
    node_config = {
        **{
            k: config[k]
            for k in ("to", "from_address", "smtp_host", "smtp_port", "smtp_username")
            if k in config
        },
        "smtp_password": config.get("smtp_password"),
        "subject": "{input[subject]}",
        "body": "{input[body]}",
    }
    try:
        server = smtp_server(node_config, context)
        email, recipients = email_message(
            node_config, context, {"subject": message.title, "body": message.text}
        )
        deliver(email, recipients, server, context)
    except NodeError as exc:
        raise DeliveryFailed(
            exc.message, permanent=exc.error_type in {"blocked_url", "no_smtp_server"}
        ) from None


_SENDERS = {
    "slack": _send_slack,
    "email": _send_email,
    "webhook": _send_webhook,
    "pagerduty": _send_pagerduty,
}
