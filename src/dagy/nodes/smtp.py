"""Sending the `email_send` node's message over SMTP (imported when the node runs)."""

from __future__ import annotations

import html
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from html.parser import HTMLParser
from typing import Any

from dagy.nodes.base import NodeContext, NodeError
from dagy.nodes.inputs import required_text
from dagy.nodes.net import check_url
from dagy.nodes.notification import render_template

SMTP_TIMEOUT_SECONDS = 30.0
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "table", "ul", "ol", "blockquote", "pre", "hr", "h1", "h2", "h3", "h4"}
)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None


def smtp_server(config: Mapping[str, Any], context: NodeContext) -> SmtpServer:
    """The node's own server when it names `smtp_host` (with its port and login), else the one the
    host configured (DAGY_SMTP_HOST, _PORT, _USERNAME, _PASSWORD)."""
    if config.get("smtp_host"):
        return SmtpServer(
            host=str(config["smtp_host"]),
            port=int(config.get("smtp_port") or 587),
            username=config.get("smtp_username") or None,
            password=config.get("smtp_password") or None,
        )
    settings = context.settings
    if not settings.smtp_host:
        raise NodeError("no_smtp_server", "The node names no smtp_host and this Dagy has no DAGY_SMTP_HOST.")
    return SmtpServer(settings.smtp_host, settings.smtp_port, settings.smtp_username, settings.smtp_password)


def email_message(
    config: Mapping[str, Any], context: NodeContext, value: Any
) -> tuple[EmailMessage, list[str]]:
    """The message (subject and body rendered with the input `value`) and its envelope recipients."""
    to, cc = addresses(config.get("to"), "to"), addresses(config.get("cc"), "cc")
    if not to:
        raise NodeError("invalid_config", "to names no recipient.")
    sender = str(config.get("from_address") or context.settings.smtp_from)
    sender_address = addresses([sender], "from_address")[0]
    subject = render_template(required_text(config, "subject"), context, value)
    message = EmailMessage()
    message["Subject"] = " ".join(subject.splitlines())
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2])
    body = required_text(config, "body")
    if config.get("body_format") == "html":
        markup = render_template(body, context, value, escape=html.escape)
        message.set_content(html_text(markup))
        message.add_alternative(markup, subtype="html")
    else:
        message.set_content(render_template(body, context, value))
    recipients = list(dict.fromkeys(parseaddr(a)[1] for a in to + cc))
    return message, recipients


def addresses(value: Any, name: str) -> list[str]:
    """The addresses of a field, each `a@b.c` or `Name <a@b.c>`."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise NodeError("invalid_config", f"{name} must be a list of email addresses.")
    for item in items:
        valid = isinstance(item, str) and not re.search(r"[\r\n]", item) and "@" in parseaddr(item)[1]
        if not valid:
            raise NodeError("invalid_config", f"{name}: {item!r} is not an email address.")
    return list(items)


def deliver(
    message: EmailMessage, recipients: list[str], server: SmtpServer, context: NodeContext
) -> tuple[list[str], list[str]]:
    """Send `message`; answer the recipients the server accepted and those it refused."""
    host = f"[{server.host}]" if ":" in server.host else server.host
    check_url(f"http://{host}:{server.port}/", context)  # the SSRF rule, for an SMTP host
    try:
        with smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            _start(smtp, server, context)
            refused = smtp.send_message(message, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise NodeError(
            "delivery_failed", f"The SMTP server refused every recipient: {exc.recipients}"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        where = f"{server.host}:{server.port}"
        raise NodeError("delivery_failed", f"Sending through {where} failed: {exc}") from exc
    if refused:
        context.logger.warning("The SMTP server refused %s", ", ".join(refused))
    return [r for r in recipients if r not in refused], list(refused)


def _start(smtp: smtplib.SMTP, server: SmtpServer, context: NodeContext) -> None:
    smtp.ehlo()
    if context.settings.smtp_starttls and smtp.has_extn("starttls"):
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo()
    if not server.username:
        return
    try:
        smtp.login(server.username, server.password or "")
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as exc:
        raise NodeError("authentication_failed", f"The SMTP server refused the login: {exc}") from exc


class _TextOf(HTMLParser):
    """The text of an HTML body, one line per block, for the message's plain-text alternative."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
