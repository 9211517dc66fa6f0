"""Notifications: telling people and systems what a flow found or did.

Every message field (Slack's `message`, an email's `subject` and `body`, PagerDuty's `summary` and
`dedup_key`) is a template with one rule, `render_template` below.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound
from dagy.nodes.definition import NodeDefinition
from dagy.nodes.inputs import node_input, required_text

if TYPE_CHECKING:
    import httpx

_MESSAGE_HINT = "A template: {input}, {input[key]}, {run_id}, {flow_name}, {node_id}, {params[name]}."
_DELIVERY = outbound(("json",), name="Delivery")

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_EXPRESSION = re.compile(r"(input|run_id|flow_name|node_id|params)((?:\[[^\[\]]+\])*)")
_KEY = re.compile(r"\[([^\[\]]+)\]")
_KEYED = frozenset({"input", "params"})

SIGNATURE_HEADER = "X-Dagy-Signature"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SUMMARY_LIMIT = 1024  # characters PagerDuty keeps of a summary
DELIVERY_TIMEOUT_SECONDS = 15.0
MAX_RESPONSE_TEXT = 10 * 1024
_ERROR_EXCERPT = 1000

Placeholder = tuple[str, tuple[str, ...]]


# --- The template rule -------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A value in a message: a string as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def parse_template(template: str) -> list[str | Placeholder]:
    """The template's literal text and placeholders, in order; NodeError("invalid_template") when
    it names an unknown placeholder or has an unmatched brace."""
    parts: list[str | Placeholder] = []
    position = 0
    for match in _TOKEN.finditer(template):
        parts.append(template[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif match.group(1) is None:
            raise NodeError(
                "invalid_template",
                f"Unmatched {token!r} at character {match.start() + 1}; {token * 2} is a literal brace.",
            )
        else:
            parts.append(_placeholder(match.group(1)))
    parts.append(template[position:])
    return [part for part in parts if part != ""]


def _placeholder(expression: str) -> Placeholder:
    found = _EXPRESSION.fullmatch(expression.strip())
    if found is None or (found.group(2) and found.group(1) not in _KEYED):
        known = "{input}, {input[key]}, {run_id}, {flow_name}, {node_id}, {params[name]}"
        raise NodeError("invalid_template", f"Unknown placeholder {{{expression}}}; known: {known}.")
    return found.group(1), tuple(_KEY.findall(found.group(2)))


def render_template(
    template: str, context: NodeContext, value: Any, *, escape: Callable[[str], str] | None = None
) -> str:
    """`template` with its placeholders replaced: `value` is the node's input. `escape` applies to
    the substituted text only (an HTML body escapes what it inserts, not its own markup)."""
    values = {
        "input": value,
        "run_id": context.run_id,
        "flow_name": context.flow_name,
        "node_id": context.node_id,
        "params": context.params,
    }
    pieces: list[str] = []
    for part in parse_template(template):
        if isinstance(part, str):
            pieces.append(part)
            continue
        text = as_text(_lookup(values, *part))
        pieces.append(escape(text) if escape is not None else text)
    return "".join(pieces)


def _lookup(values: Mapping[str, Any], name: str, keys: tuple[str, ...]) -> Any:
    value = values[name]
    path = name
    for key in keys:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise NodeError("invalid_template", f"{{{path}[{key}]}}: {path} has no {key!r}.")
        path += f"[{key}]"
    return value


def template_problem(template: str) -> str | None:
    try:
        parse_template(template)
    except NodeError as exc:
        return exc.message
    return None


# --- What the four node types share -----------------------------------------------------------


class _NotificationNode(ExecutableNode):
    template_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        for name in cls.template_fields:
            template = data.get(name)
            problem = template_problem(template) if isinstance(template, str) else None
            if problem is not None:
                problems[name] = problem
        return problems


def send(
    context: NodeContext, method: str, url: str, *, what: str, timeout: float, **kwargs: Any
) -> httpx.Response:
    """One request through the SSRF-guarded client; a peer that cannot be reached is
    NodeError("delivery_failed"). The URL stays out of the message: a Slack URL is a secret."""
    import httpx  # noqa: PLC0415 - imported when the node runs: `import dagy.nodes` stays fast

    from dagy.nodes.net import http_client  # noqa: PLC0415 - imports httpx

    try:
        with http_client(context, timeout=timeout) as client:
            return client.request(method, url, **kwargs)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise NodeError("delivery_failed", f"{what} could not be reached: {exc}") from exc


def refused(what: str, response: httpx.Response) -> NodeError:
    return NodeError("delivery_failed", f"{what} answered {response.status_code}: {excerpt(response)}")


def excerpt(response: httpx.Response) -> str:
    text = response.text
    return text if len(text) <= _ERROR_EXCERPT else text[:_ERROR_EXCERPT] + "…"


# --- The node types ---------------------------------------------------------------------------


class SlackNotifyNode(_NotificationNode):
    definition = NodeDefinition(
        node_type="slack_notify",
        label="Slack Notify",
        description="Post a message to a Slack channel through an incoming webhook.",
        category="notification",
        icon="Slack",
        color="rose",
        tags=("slack", "chat", "message", "alert", "notify"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("webhook_url", "Webhook URL", "secret", required=True),
            ConfigField("message", "Message", "string", required=True, description=_MESSAGE_HINT),
            ConfigField("channel", "Channel", "string", description="Overrides the webhook's channel."),
            ConfigField("username", "Username", "string"),
        ),
    )
    template_fields = ("message",)

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        body = {"text": render_template(required_text(config, "message"), context, node_input(inputs))}
        body |= {name: str(config[name]) for name in ("channel", "username") if config.get(name)}
        url = required_text(config, "webhook_url")
        response = send(context, "POST", url, what="Slack", timeout=DELIVERY_TIMEOUT_SECONDS, json=body)
        if response.status_code != 200 or response.text.strip() != "ok":
            raise refused("Slack", response)
        return {"delivered": True, "status": response.status_code}


class EmailSendNode(_NotificationNode):
    definition = NodeDefinition(
        node_type="email_send",
        label="Send Email",
        description="Send an email over SMTP.",
        category="notification",
        icon="Mail",
        color="rose",
        tags=("email", "smtp", "mail", "notify", "report"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("to", "To", "array", required=True),
            ConfigField("subject", "Subject", "string", required=True, description=_MESSAGE_HINT),
            ConfigField("body", "Body", "string", required=True, description=_MESSAGE_HINT),
            ConfigField("body_format", "Body format", "enum", default="text", options=("text", "html")),
            ConfigField("cc", "Cc", "array"),
            ConfigField("from_address", "From", "string"),
            ConfigField("smtp_host", "SMTP host", "string", description="Defaults to the server's SMTP."),
            ConfigField("smtp_port", "SMTP port", "integer", default=587),
            ConfigField("smtp_username", "SMTP username", "string"),
            ConfigField("smtp_password", "SMTP password", "secret"),
        ),
    )
    template_fields = ("subject", "body")

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        from dagy.nodes.smtp import deliver, email_message, smtp_server  # noqa: PLC0415 - smtplib loads when the node runs

        server = smtp_server(config, context)
        message, recipients = email_message(config, context, node_input(inputs))
        accepted, rejected = deliver(message, recipients, server, context)
        return {
            "delivered": True,
            "recipients": accepted,
            "refused": rejected,
            "message_id": message["Message-ID"],
        }


class WebhookPostNode(_NotificationNode):
    definition = NodeDefinition(
        node_type="webhook_post",
        label="Webhook Post",
        description="Send the incoming data as JSON to a URL, optionally signed with HMAC-SHA256.",
        category="notification",
        icon="Webhook",
        color="rose",
        tags=("webhook", "http", "post", "callback", "notify"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("url", "URL", "string", required=True),
            ConfigField("method", "Method", "enum", default="POST", options=("POST", "PUT", "PATCH")),
            ConfigField("headers", "Headers", "object"),
            ConfigField("payload", "Payload", "object", description="Sent instead of the incoming data."),
            ConfigField("auth_token", "Bearer token", "secret"),
            ConfigField("signing_secret", "Signing secret", "secret"),
            ConfigField("timeout_seconds", "Timeout (seconds)", "number", default=10),
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        headers = data.get("headers")
        if isinstance(headers, dict) and not all(isinstance(v, str) for v in headers.values()):
            return {"headers": "header values must be strings"}
        return {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        payload = config.get("payload")
        body = as_json_bytes(payload if payload is not None else node_input(inputs))
        headers = {"Content-Type": "application/json", **_header_values(config.get("headers"))}
        if config.get("auth_token"):
            headers["Authorization"] = f"Bearer {config['auth_token']}"
        if config.get("signing_secret"):
            headers[SIGNATURE_HEADER] = signature(str(config["signing_secret"]), body, int(time.time()))
        method = str(config.get("method") or "POST")
        if method not in ("POST", "PUT", "PATCH"):
            raise NodeError("invalid_config", f"method must be POST, PUT or PATCH, not {method!r}.")
        response = send(
            context,
            method,
            required_text(config, "url"),
            what="The webhook",
            timeout=float(config.get("timeout_seconds") or 10),
            content=body,
            headers=headers,
        )
        if not response.is_success:
            raise refused("The webhook", response)
        return {"delivered": True, "status": response.status_code, "response": response_value(response)}


def as_json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _header_values(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise NodeError("invalid_config", "headers must be an object of strings.")
    return {str(name): value for name, value in headers.items()}


def response_value(response: httpx.Response) -> Any:
    """The answer's body: parsed when it says it is JSON, else its text cut to 10 KB."""
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    text = response.text
    return text if len(text) <= MAX_RESPONSE_TEXT else text[:MAX_RESPONSE_TEXT] + "…[truncated]"


class PagerDutyAlertNode(_NotificationNode):
    definition = NodeDefinition(
        node_type="pagerduty_alert",
        label="PagerDuty Alert",
        description="Trigger, acknowledge or resolve a PagerDuty incident (Events API v2).",
        category="notification",
        icon="Siren",
        color="rose",
        tags=("pagerduty", "incident", "on-call", "alert", "page"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("routing_key", "Routing key", "secret", required=True),
            ConfigField("summary", "Summary", "string", required=True, description=_MESSAGE_HINT),
            ConfigField(
                "severity",
                "Severity",
                "enum",
                default="error",
                options=("critical", "error", "warning", "info"),
            ),
            ConfigField(
                "event_action",
                "Action",
                "enum",
                default="trigger",
                options=("trigger", "acknowledge", "resolve"),
            ),
            ConfigField(
                "dedup_key",
                "Dedup key",
                "string",
                description="A template; acknowledge and resolve name the incident by it.",
            ),
            ConfigField("source", "Source", "string", default="dagy"),
            ConfigField(
                "events_url",
                "Events API URL",
                "string",
                default=PAGERDUTY_EVENTS_URL,
                description="PagerDuty's Events API v2, or a proxy in front of it.",
            ),
        ),
    )
    template_fields = ("summary", "dedup_key")

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        value = node_input(inputs)
        event = pagerduty_event(config, context, value)
        url = str(config.get("events_url") or PAGERDUTY_EVENTS_URL)
        response = send(context, "POST", url, what="PagerDuty", timeout=DELIVERY_TIMEOUT_SECONDS, json=event)
        if response.status_code != 202:
            raise refused("PagerDuty", response)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        dedup_key = answer.get("dedup_key") if isinstance(answer, dict) else None
        return {
            "delivered": True,
            "status": response.status_code,
            "dedup_key": dedup_key or event.get("dedup_key"),
        }


def pagerduty_event(config: Mapping[str, Any], context: NodeContext, value: Any) -> dict[str, Any]:
    action = str(config.get("event_action") or "trigger")
    if action not in ("trigger", "acknowledge", "resolve"):
        raise NodeError(
            "invalid_config", f"event_action must be trigger, acknowledge or resolve, not {action!r}."
        )
    event: dict[str, Any] = {"routing_key": required_text(config, "routing_key"), "event_action": action}
    if config.get("dedup_key"):
        event["dedup_key"] = render_template(str(config["dedup_key"]), context, value)
    if action != "trigger":
        if "dedup_key" not in event:
            raise NodeError("invalid_config", f"{action} needs the dedup_key of the incident.")
        return event
    summary = render_template(required_text(config, "summary"), context, value)
    event["payload"] = {
        "summary": summary[:PAGERDUTY_SUMMARY_LIMIT],
        "source": str(config.get("source") or "dagy"),
        "severity": str(config.get("severity") or "error"),
    }
    if value is not None:
        event["payload"]["custom_details"] = value
    return event


NODES: tuple[type[NodeType], ...] = (SlackNotifyNode, EmailSendNode, WebhookPostNode, PagerDutyAlertNode)
