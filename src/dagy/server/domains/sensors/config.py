"""What each sensor type's `config_json` holds, checked when a sensor is created or changed.

- `webhook`: nothing (an empty object).
- `s3`: `bucket` and `prefix` in an S3 or S3-compatible store (`endpoint_url`, `region`, and
  credentials as secret references), or `store: "local"` for the org's data in Dagy's own object
  store; `interval_seconds` between listings; `include_existing` to fire for objects that were
  there before the sensor.
- `polling`: `url` (http or https, behind the SSRF guard), `interval_seconds`, `headers` (values may
  be secret references), and an optional JSONPath `condition`.

A secret reference is `{"secret": "name"}` (optionally with `"environment"`), resolved by the server
when it checks the source; values never sit in `config_json`. docs/sensors.md has the details.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from dagy.server.domains.secrets.schemas import EnvironmentName, SecretName
from dagy.server.errors import InvalidInput

MIN_INTERVAL_SECONDS = 30
MAX_INTERVAL_SECONDS = 7 * 24 * 3600
DEFAULT_INTERVAL_SECONDS = 60
OBJECT_CREATED = "s3:ObjectCreated:"
LOCAL_STORE = "local"

HeaderName = Annotated[str, StringConstraints(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")]
HeaderValue = Annotated[str, StringConstraints(max_length=4096, pattern=r"^[^\r\n\x00]*$")]
Interval = Annotated[int, Field(ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS)]
# S3's bucket naming rules, closely enough to refuse what no store would accept.
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
Prefix = Annotated[str, StringConstraints(max_length=1024, pattern=r"^[^\x00]*$")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Config):
    """`{"secret": "name"}`: a secret of the sensor's org, chosen as `GET /secrets/{name}` chooses."""

    secret: SecretName
    environment: EnvironmentName | None = None


class WebhookConfig(_Config):
    """A webhook sensor needs no configuration: its token is what callers use."""


class S3Config(_Config):
    store: Literal["s3", "local"] = "s3"
    bucket: BucketName | None = None
    prefix: Prefix = ""
    events: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=lambda: [f"{OBJECT_CREATED}*"], max_length=8
    )
    endpoint_url: Url | None = None
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,32}$")] | None = None
    aws_access_key_id: SecretRef | None = None
    aws_secret_access_key: SecretRef | None = None
    interval_seconds: Interval = DEFAULT_INTERVAL_SECONDS
    include_existing: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> S3Config:
        for event in self.events:
            if not event.startswith(OBJECT_CREATED):
                raise ValueError(f"events: only {OBJECT_CREATED}* events are watched, not {event!r}")
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError("aws_access_key_id: goes with aws_secret_access_key; give both or neither")
        if self.prefix.startswith("/"):
            raise ValueError("prefix: an object key prefix does not start with /")
        if self.store == "s3" and self.bucket is None:
            raise ValueError("bucket: required (or store: local for Dagy's own object store)")
        if self.store == LOCAL_STORE:
            extra = [
                name
                for name in ("bucket", "endpoint_url", "region", "aws_access_key_id")
                if getattr(self, name) is not None
            ]
            if extra:
                raise ValueError(f"{extra[0]}: not used with store: local (the org's own objects)")
        return self


class Condition(_Config):
    """True when `jsonpath` matches a value equal to `equals`, or, without `equals`, a value that is
    not null, false, 0, "" or empty."""

    jsonpath: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    equals: Any = None

    @model_validator(mode="after")
    def _parses(self) -> Condition:
        try:
            parse_jsonpath(self.jsonpath)
        except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # the parser raises bare ones
            raise ValueError(f"jsonpath: not a JSONPath expression ({exc})") from None
        return self

    def holds(self, document: Any) -> bool:
        values = [match.value for match in parse_jsonpath(self.jsonpath).find(document)]
        if "equals" in self.model_fields_set:
            return any(value == self.equals for value in values)
        return any(value not in (None, False, 0, "", [], {}) for value in values)


class PollingConfig(_Config):
    url: Url
    interval_seconds: Interval = DEFAULT_INTERVAL_SECONDS
    headers: dict[HeaderName, HeaderValue | SecretRef] = Field(default_factory=dict, max_length=50)
    condition: Condition | None = None


SensorConfig = WebhookConfig | S3Config | PollingConfig
CONFIG_TYPES: dict[str, type[SensorConfig]] = {
    "webhook": WebhookConfig,
    "s3": S3Config,
    "polling": PollingConfig,
}
MAX_CONFIG_BYTES = 64 * 1024


def parse_config(sensor_type: str, raw: dict[str, Any]) -> SensorConfig:
    """`raw` as its type's config; `InvalidInput` naming each field as `config_json.<field>`."""
    if len(json.dumps(raw).encode()) > MAX_CONFIG_BYTES:
        raise InvalidInput(
            "config_json is too large.", details={"config_json": f"at most {MAX_CONFIG_BYTES} bytes"}
        )
    try:
        return CONFIG_TYPES[sensor_type].model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"Invalid {sensor_type} sensor configuration.", details=_details(exc)) from None


def _details(exc: ValidationError) -> dict[str, str]:
    """Pydantic's errors keyed `config_json.<path>`; a cross-field error names its field first."""
    details: dict[str, str] = {}
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        field, _, rest = message.partition(": ")
        if error["type"] == "value_error" and rest and " " not in field:
            path, message = ".".join(p for p in (path, field) if p), rest
        details.setdefault(f"config_json.{path}" if path else "config_json", message)
    return details


def secret_refs(config: SensorConfig) -> dict[str, SecretRef]:
    """Every secret reference of `config`, by the field that holds it (`headers.Authorization`)."""
    refs: dict[str, SecretRef] = {}
    if isinstance(config, S3Config):
        for name in ("aws_access_key_id", "aws_secret_access_key"):
            ref = getattr(config, name)
            if ref is not None:
                refs[name] = ref
    if isinstance(config, PollingConfig):
        refs |= {f"headers.{k}": v for k, v in config.headers.items() if isinstance(v, SecretRef)}
    return refs
