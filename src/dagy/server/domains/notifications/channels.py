"""A channel's `config_json` by type: parsing, the SSRF guard's checks, and what GET may show.

Credentials (a Slack webhook URL, a webhook's `secret` and header values, a PagerDuty routing
key, an SMTP password) are kept encrypted with the whole config and masked in every answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from dagy.nodes.net import static_problem
from dagy.server.errors import InvalidInput

ChannelType = Literal["slack", "email", "webhook", "pagerduty"]
CHANNEL_TYPES: tuple[str, ...] = ("slack", "email", "webhook", "pagerduty")
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MASK = "********"
MAX_CONFIG_BYTES = 16 * 1024

Url = Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Address = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s<>]+@[^@\s<>]+$")]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlackConfig(_Config):
    webhook_url: Url = Field(description="The incoming webhook's URL (https).")
    channel: Annotated[str, StringConstraints(max_length=80)] | None = None


class EmailConfig(_Config):
    to: list[Address] = Field(min_length=1, max_length=50)
    from_address: Address | None = None
    smtp_host: Text | None = Field(None, description="Overrides the server's DAGY_SMTP_URL / _HOST.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: Text | None = None
    smtp_password: Text | None = None


class WebhookConfig(_Config):
    url: Url
    headers: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")], Text] = Field(
        default_factory=dict, max_length=20
    )
    secret: Text | None = Field(None, description="Signs every delivery (X-Dagy-Signature).")

    @field_validator("headers")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"host", "content-length", "content-type", "x-dagy-signature"}
        taken = sorted(name for name in value if name.lower() in reserved)
        if taken:
            raise ValueError(f"{', '.join(taken)} cannot be set")
        return value


class PagerDutyConfig(_Config):
    routing_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    severity: Literal["critical", "error", "warning", "info"] = "error"
    events_url: Url | None = Field(None, description="Another Events API v2 endpoint (a proxy).")


CONFIG_MODELS: dict[str, type[_Config]] = {
    "slack": SlackConfig,
    "email": EmailConfig,
    "webhook": WebhookConfig,
    "pagerduty": PagerDutyConfig,
}
# The fields whose values are credentials, by type.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "slack": ("webhook_url",),
    "email": ("smtp_password",),
    "webhook": ("secret",),
    "pagerduty": ("routing_key",),
}
# The outgoing URLs the SSRF guard checks, by type.
URL_FIELDS: dict[str, tuple[str, ...]] = {
    "slack": ("webhook_url",),
    "webhook": ("url",),
    "pagerduty": ("events_url",),
}


def parse_channel_config(channel_type: str, raw: Mapping[str, Any], *, allow_private: bool) -> dict[str, Any]:
    """The config of a `channel_type` channel, normalised; InvalidInput naming each bad field
    (`config_json.<field>`) otherwise."""
    model = CONFIG_MODELS[channel_type]
    try:
        config = model.model_validate(dict(raw)).model_dump(exclude_none=True)
    except ValidationError as exc:
        details = {
            ".".join(["config_json", *(str(p) for p in error["loc"])]): error["msg"] for error in exc.errors()
        }
        raise InvalidInput(f"Invalid {channel_type} channel configuration.", details=details) from None
    problems = _address_problems(channel_type, config, allow_private=allow_private)
    if problems:
        raise InvalidInput(f"Invalid {channel_type} channel configuration.", details=problems)
    return config


def _address_problems(channel_type: str, config: Mapping[str, Any], *, allow_private: bool) -> dict[str, str]:
    """The SSRF guard's refusals that need no DNS (a name's addresses are checked at each delivery,
    after resolution, and on every redirect), and Slack's https."""
    problems: dict[str, str] = {}
    for name in URL_FIELDS.get(channel_type, ()):
        url = config.get(name)
        if url is None:
            continue
        reason = static_problem(url, allow_private=allow_private)
        if reason is not None:
            problems[f"config_json.{name}"] = f"refused by the SSRF guard: {reason}"
        elif channel_type == "slack" and urlsplit(url).scheme != "https" and not allow_private:
            problems[f"config_json.{name}"] = "a Slack webhook URL must be https"
    if channel_type == "email" and config.get("smtp_host"):
        host = str(config["smtp_host"])
        url = f"http://[{host}]:1/" if ":" in host else f"http://{host}:1/"
        reason = static_problem(url, allow_private=allow_private)
        if reason is not None:
            problems["config_json.smtp_host"] = f"refused by the SSRF guard: {reason}"
    return problems


def masked(channel_type: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as answers show it: credentials masked, a Slack URL down to its scheme and host,
    header values hidden."""
    shown = dict(config)
    for name in CREDENTIALS.get(channel_type, ()):
        value = shown.get(name)
        if value is None:
            continue
        parts = urlsplit(str(value)) if name.endswith("url") else None
        shown[name] = f"{parts.scheme}://{parts.hostname}/{MASK}" if parts and parts.hostname else MASK
    if channel_type == "webhook" and shown.get("headers"):
        shown["headers"] = dict.fromkeys(shown["headers"], MASK)
    return shown
