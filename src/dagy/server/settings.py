"""The server's configuration: one typed root read from `DAGY_*` environment variables.

Built once (by `create_app()` or the CLI) and passed down; no module reads `os.environ` itself.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dagy.protocol.host import HostSettings
from dagy.runtime.limits import mode_limits_problems
from dagy.tracing import TracingMode

# A worker pool's name is an executor name, so it must pass the API's executor pattern (flows, runs,
# `dagy worker --executor`); `local` and `flow-executor` are built in.
WORKER_POOL_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
# The table in domains/deployments/backends.py.
BUILT_IN_EXECUTORS = (
    "local",
    "flow-executor",
    "lambda",
    "ecs",
    "step-functions",
    "kubernetes",
    "docker",
    "dask",
)


class AuthMode(StrEnum):
    """How a caller proves who they are: `POST /auth/login` (email, password) or the OpenID
    Connect provider's sign-in (`GET /auth/oidc/login`, docs/authentication.md)."""

    EMAIL = "email"
    PASSWORD = "password"  # noqa: S105 - the name of a mode, not a password
    OIDC = "oidc"


# Where the provider sends the browser back; the default redirect URL is the server's URL + this.
OIDC_CALLBACK_PATH = "/v1/auth/oidc/callback"


class OidcSettings(BaseModel):
    """The OpenID Connect provider of `DAGY_AUTH_MODE=oidc` (docs/authentication.md, "Single
    sign-on"). Dagy is a relying party using the authorization-code flow with PKCE."""

    issuer: str = Field(
        "",
        max_length=2048,
        description="The provider's issuer URL, exactly as its ID tokens name it; its discovery "
        "document is `<issuer>/.well-known/openid-configuration`.",
    )
    client_id: str = Field("", max_length=512, description="Dagy's client id at the provider.")
    client_secret: SecretStr | None = Field(
        None, description="Dagy's client secret at the provider; unset for a public client (PKCE only)."
    )
    scopes: str = Field(
        "openid email profile",
        description="Space-separated scopes asked for: `openid` is required, `email` brings the email claim.",
    )
    redirect_url: str = Field(
        "",
        max_length=2048,
        description="The callback URL registered at the provider; empty: DAGY_PUBLIC_URL (else the "
        f"server's own http://host:port) + `{OIDC_CALLBACK_PATH}`.",
    )
    allow_unverified_email: bool = Field(
        False,
        description="Accept an ID token whose `email_verified` is not true (only for a provider that "
        "never sends the claim and whose emails you trust).",
    )


class RunQueueSettings(BaseModel):
    """Timing of the run queue (DESIGN.md §3); short values are for tests and impatient operators."""

    lease_seconds: float = Field(30.0, gt=0, description="How long a claim lasts without a heartbeat.")
    heartbeat_seconds: float = Field(5.0, gt=0, description="How often a worker extends its lease.")
    reaper_seconds: float = Field(
        10.0,
        gt=0,
        description="How often expired leases are re-queued, approvals past their timeout decided and "
        "the concurrency slots of ended runs swept.",
    )
    claim_wait_seconds: float = Field(25.0, ge=0, description="How long a worker's claim long-polls.")


# Waits between the attempts of an alert delivery: 10 attempts, from 1 s to 1 h (docs/alerts.md).
ALERT_RETRY_DELAYS_SECONDS = (1.0, 3.0, 8.0, 20.0, 60.0, 180.0, 480.0, 1200.0, 3600.0)


class AlertSettings(BaseModel):
    """The alert dispatcher and SLA checker (docs/alerts.md); short values are for tests."""

    enabled: bool = Field(
        True, description="Send alert deliveries and check SLAs in the background services."
    )
    dispatch_seconds: float = Field(
        1.0, gt=0, description="How often the dispatcher looks for due deliveries when it found none."
    )
    retry_delays_seconds: list[float] = Field(
        default_factory=lambda: list(ALERT_RETRY_DELAYS_SECONDS),
        min_length=1,
        description="Waits after each failed attempt; a delivery fails after len + 1 attempts.",
    )
    batch_size: int = Field(100, ge=1, le=1000, description="Deliveries one dispatcher takes at once.")
    concurrency: int = Field(16, ge=1, le=256, description="Deliveries one dispatcher sends at once.")
    timeout_seconds: float = Field(10.0, gt=0, description="How long a receiving endpoint may take.")
    sla_check_seconds: float = Field(
        10.0, gt=0, description="How often running runs are checked against on_sla_breach rules."
    )


class UsageSettings(BaseModel):
    """Metering and its roll-ups (docs/usage-and-billing.md); short values are for tests."""

    flush_seconds: float = Field(
        2.0, gt=0, description="How often a server writes the API calls and errors it counted."
    )
    rollup_seconds: float = Field(
        60.0, gt=0, description="How often the background services recompute the recent days' roll-ups."
    )
    recompute_days: int = Field(
        2, ge=1, le=31, description="Days before today each roll-up recomputes (late node reports)."
    )
    catchup_days: int = Field(
        92, ge=1, le=3660, description="How far back the roll-up fills in days it never computed."
    )


class RetentionSettings(BaseModel):
    """How long data is kept when an org sets nothing, and the purge loop (docs/operations.md,
    "Retention"). Unset days: kept forever."""

    runs_days: int | None = Field(
        None, ge=7, le=3650, description="Days terminal runs are kept (with their logs and node runs)."
    )
    logs_days: int | None = Field(None, ge=1, le=3650, description="Days run log lines are kept.")
    node_outputs_days: int | None = Field(
        None, ge=1, le=3650, description="Days node outputs (and their objects) are kept."
    )
    audit_days: int | None = Field(None, ge=30, le=3650, description="Days audit rows are kept.")
    sensor_events_days: int | None = Field(
        None, ge=1, le=3650, description="Days sensor events without a dedup key are kept."
    )
    purge_seconds: float = Field(600.0, gt=0, description="How often the background services purge.")
    batch_size: int = Field(
        500, ge=1, le=50_000, description="Rows one purge transaction deletes (runs: a twentieth)."
    )


# Where `npm run build` in web/ writes the web app; the wheel ships it (docs/web.md).
WEB_BUILD = Path(__file__).resolve().parent / "webapp"


class Settings(BaseSettings):
    """Everything `dagy server` and `dagy services` need to know at start."""

    model_config = SettingsConfigDict(env_prefix="DAGY_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(Path.home() / ".dagy", description="Folder for the embedded database, keys, objects.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file in DAGY_HOME.")
    secret_key: SecretStr | None = Field(
        None, description="Key-encryption key material; generated into DAGY_HOME on first start when unset."
    )
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated key-encryption keys still accepted for unwrapping during a key rotation "
        "(docs/secrets.md); new data keys are always wrapped with DAGY_SECRET_KEY.",
    )
    superadmin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated emails that are super admins."
    )
    log_level: str = Field("INFO", description="Log level of the server's loggers.")
    host: str = Field("127.0.0.1", description="Address `dagy server` listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port `dagy server` listens on.")
    server_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes of `dagy server` sharing its port (more than one: PostgreSQL only).",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted (client IPs "
        "in audit rows and rate limits); empty trusts none.",
    )
    auth_mode: AuthMode | None = Field(
        None,
        description="email, password or oidc; default email on a loopback host, password otherwise.",
    )
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    web_dir: Path | None = Field(
        default_factory=lambda: WEB_BUILD if (WEB_BUILD / "index.html").is_file() else None,
        description="Folder of the web app's build served at `/` (api/webapp.py); default the build the "
        "package ships, if any. Without one, `/` is a short page linking the API reference.",
    )
    token_ttl_seconds: int = Field(12 * 3600, gt=0, description="Lifetime of a login session token.")
    auth_cache_seconds: float = Field(
        2.0, ge=0, description="How long a resolved caller is reused in-process before the database is asked."
    )
    login_failures_per_minute: int = Field(5, gt=0, description="Failed logins per email and IP per minute.")
    rate_limit_per_minute: int = Field(
        6000, gt=0, description="Requests per caller (bearer token) per minute."
    )
    rate_limit_per_address_per_minute: int = Field(
        60000,
        gt=0,
        description="Ceiling on requests per client address per minute, whatever tokens they carry.",
    )
    max_request_bytes: int = Field(
        2 * 1024 * 1024, gt=0, description="Largest request body accepted (413 beyond); routes may set less."
    )
    max_object_bytes: int = Field(
        256 * 1024 * 1024,
        gt=0,
        description="Largest object a remote worker's run may store through the worker protocol "
        "(`PUT /v1/workers/runs/{id}/objects/...`), or a user through `PUT /v1/objects/...` "
        "(413 `object_too_large` beyond).",
    )
    max_flow_spec_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest flow spec accepted, as canonical JSON (413 beyond)."
    )
    redis_url: str = Field("", description="Redis for cross-replica rate limits; empty means in-process.")
    worker_token: SecretStr | None = Field(
        None, description="Installation worker token; generated into DAGY_HOME on first start when unset."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token `GET /metrics` requires (docs/metrics.md); unset: the endpoint is public, "
        "as for a scrape from inside the cluster.",
    )
    tracing: TracingMode = Field(
        "off",
        description="off, or otlp: OpenTelemetry spans of requests, run dispatch and node execution "
        '(docs/metrics.md, "Tracing"), sent over OTLP/HTTP to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or '
        "OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318).",
    )
    default_executor: str = Field("local", description="Executor of runs that name none.")
    worker_pools: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Worker pools beyond the built-in executors (local, flow-executor, lambda, ecs, "
        "step-functions, kubernetes, docker, dask) that `dagy worker --executor NAME` "
        "processes serve; runs, flows, deployments and environments may name them.",
    )
    worker_concurrency: int = Field(
        4, ge=1, le=256, description="Runs the embedded worker of `dagy server` executes at once."
    )
    # Container executors (docs/deployments.md, "Container executors"): the background services hand each run
    # of `kubernetes` or `docker` to a container that runs `dagy execute-run RUN_ID`.
    container_image: str = Field(
        "",
        description="Image of the run containers of `kubernetes` and `docker`: Dagy installed, "
        "`dagy` on PATH, the nodes' Python packages.",
    )
    container_api_url: str = Field(
        "",
        description="The URL a run container reaches this API at; empty: DAGY_PUBLIC_URL, else the "
        "server's own address.",
    )
    container_concurrency: int = Field(
        16, ge=1, le=10_000, description="Runs one container executor keeps launched at once."
    )
    k8s_namespace: str = Field(
        "",
        description="Kubernetes namespace of run Jobs; set, it enables the `kubernetes` executor "
        "(in-cluster configuration, else the kubeconfig).",
    )
    k8s_service_account: str = Field(
        "", description="Service account of run pods; empty: the namespace's default."
    )
    docker_url: str = Field(
        "",
        description="Docker or Podman API of the `docker` executor (unix:///var/run/docker.sock, "
        "tcp://host:2375); set, it enables that executor.",
    )
    docker_network: str = Field(
        "", description="Network of run containers; empty: the engine's default bridge."
    )
    docker_volumes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated `host:container[:ro]` binds of every run container (a shared cache, "
        "certificates).",
    )
    queue: RunQueueSettings = Field(default_factory=RunQueueSettings)
    scheduler_enabled: bool = Field(
        True, description="Fire due schedules in the background services of `dagy server`."
    )
    scheduler_tick_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the scheduler looks for due schedules; a fire time within a tick is on time.",
    )
    max_parallel_nodes: int = Field(
        4, ge=1, le=64, description="Nodes of one run the embedded worker executes at once."
    )
    run_log_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="A run's log is cut past this many bytes (one marker line says so); the run goes on.",
    )
    execution_mode_limits: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description='JSON {"mode": {"memory_mb": N, "timeout_seconds": N, "max_processes": N}} overriding '
        "the execution modes' limits (docs/runs.md) for the runs of the embedded worker.",
    )
    isolation: Literal["strict", "best", "off"] | None = Field(
        None,
        description="Run isolation of the embedded worker (docs/isolation.md): strict (refuse to start "
        "without the full boundary), best (the strongest the host offers, with a warning) or off "
        "(single-user installations only). Unset: strict when the server listens on a non-loopback "
        "address or the installation has more than one org, else best.",
    )
    allow_private_network: bool = Field(
        False,
        description="Let nodes reach loopback, private and link-local addresses (the SSRF guard off): "
        "tests and on-premises services only.",
    )
    smtp_host: str = Field("", description="SMTP server `email_send` nodes use when they name none.")
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of DAGY_SMTP_HOST.")
    smtp_username: str = Field("", description="Login at DAGY_SMTP_HOST; empty sends without one.")
    smtp_password: SecretStr | None = Field(None, description="Password of DAGY_SMTP_USERNAME.")
    smtp_from: str = Field("dagy@localhost", description="Sender of emails that name none.")
    smtp_starttls: bool = Field(True, description="Upgrade SMTP connections with STARTTLS.")
    smtp_url: SecretStr | None = Field(
        None,
        description="`smtp://user:password@host:587`: sets DAGY_SMTP_HOST, _PORT, _USERNAME and "
        "_PASSWORD at once (it wins over them); the connection is upgraded with STARTTLS.",
    )
    public_url: str = Field(
        "",
        description="The URL users reach Dagy's UI at; alert messages link to `<it>/runs/<run id>`. "
        "Empty: the server's own http://host:port.",
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    webhook_rate_limit_per_minute: int = Field(
        60,
        gt=0,
        description="Requests per webhook token per minute to `POST /webhooks/{token}` (429 beyond).",
    )
    sensors_enabled: bool = Field(
        True, description="Check s3 and polling sensors in the background services of `dagy server`."
    )
    sensor_tick_seconds: float = Field(
        5.0, gt=0, description="How often the sensor loop looks for sensors due a check."
    )
    s3_bucket: str | None = Field(
        None,
        description="Bucket of the artifact store (docs/artifacts.md); unset: the local folder "
        "DAGY_HOME/objects.",
    )
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible server (MinIO and the like); unset: AWS S3."
    )
    s3_region: str | None = Field(None, description="Region of DAGY_S3_BUCKET; unset: boto3's default.")
    artifact_max_bytes: int = Field(
        5 * 1024**3, gt=0, description="Largest artifact `POST /artifacts/initiate` accepts (413 beyond)."
    )
    artifact_upload_url_seconds: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="How long the part URLs of an artifact upload are valid."
    )
    usage: UsageSettings = Field(default_factory=UsageSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    stripe_api_key: SecretStr | None = Field(
        None,
        description="Stripe secret key: billing is configured only when it is set (checkout, portal, "
        "paid plans gated behind checkout).",
    )
    default_plan: Literal["free", "professional", "enterprise"] | None = Field(
        None,
        description="The plan of an org created without one. Unset: `free` when billing is configured "
        "(`DAGY_STRIPE_API_KEY`), else `enterprise`, so a self-hosted installation has no run quota.",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None, description="Signing secret of the Stripe webhook endpoint (`POST /billing/webhook`)."
    )
    stripe_api_base: str = Field(
        "https://api.stripe.com", description="Stripe's API address (a local Stripe stand-in in tests)."
    )
    stripe_price_professional: str = Field("", description="Stripe price id of the professional plan.")
    stripe_price_enterprise: str = Field("", description="Stripe price id of the enterprise plan.")
    # AI Studio's planner (docs/ai-studio.md, "Planners"): the embedded one, offline and without a
    # key, unless a provider is configured; then the provider's model of the session's tier.
    ai_provider: Literal["embedded", "openai", "anthropic"] = Field(
        "embedded",
        description="AI Studio's planner: embedded (deterministic, offline), openai (any OpenAI-compatible "
        "chat-completions API) or anthropic (the Anthropic messages API).",
    )
    ai_base_url: str = Field(
        "",
        description="The provider's API address, e.g. http://localhost:11434/v1 for a local "
        "OpenAI-compatible server; empty: the provider's public API.",
    )
    ai_api_key: SecretStr | None = Field(
        None, description="API key of DAGY_AI_PROVIDER; a local OpenAI-compatible server may need none."
    )
    ai_model: str = Field(
        "", description="The model of every tier DAGY_AI_MODELS does not name (openai and anthropic)."
    )
    ai_models: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"fast": "...", "standard": "...", "max": "..."}: the model of each AI Studio '
        "tier, over DAGY_AI_MODEL.",
    )
    ai_timeout_seconds: float = Field(
        60.0, gt=0, description="How long one call to the provider may take; past it the turn fails with 503."
    )
    ai_max_tokens: int = Field(
        4096, ge=256, le=65536, description="Most tokens the model may answer per call."
    )

    @field_validator("superadmin_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        if isinstance(value, str):
            return [e.strip().lower() for e in value.split(",") if e.strip()]
        return value

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("worker_pools", "docker_volumes", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("worker_pools")
    @classmethod
    def _check_pools(cls, value: list[str]) -> list[str]:
        """Each name once, in the order given; a name the API could not accept is refused at start."""
        for name in value:
            if name in BUILT_IN_EXECUTORS:
                raise ValueError(f"{name} is built in; list only the other pools")
            if not re.fullmatch(WORKER_POOL_PATTERN, name):
                raise ValueError(f"{name!r}: 1-64 lowercase letters, digits, _ or -, starting with a letter")
        return list(dict.fromkeys(value))

    @field_validator("execution_mode_limits")
    @classmethod
    def _check_mode_limits(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        problem = mode_limits_problems(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _ai_model_named(self) -> Settings:
        """A provider needs a model to call: refused at start rather than at the first turn."""
        if self.ai_provider != "embedded" and not self.ai_model and not self.ai_models:
            raise ValueError(
                f"DAGY_AI_PROVIDER={self.ai_provider} needs DAGY_AI_MODEL (or DAGY_AI_MODELS per tier)"
            )
        return self

    @model_validator(mode="after")
    def _oidc_provider_named(self) -> Settings:
        """Single sign-on without a provider to ask is refused at start, not at the first sign-in."""
        if self.auth_mode == AuthMode.OIDC and not (self.oidc.issuer and self.oidc.client_id):
            raise ValueError("DAGY_AUTH_MODE=oidc needs DAGY_OIDC__ISSUER and DAGY_OIDC__CLIENT_ID")
        if self.auth_mode == AuthMode.OIDC and "openid" not in self.oidc.scopes.split():
            raise ValueError("DAGY_OIDC__SCOPES must include openid")
        return self

    def oidc_redirect_url(self) -> str:
        """Where the provider sends the browser back after sign-in (`DAGY_OIDC__REDIRECT_URL`)."""
        if self.oidc.redirect_url:
            return self.oidc.redirect_url
        return (self.public_url or self.own_url()).rstrip("/") + OIDC_CALLBACK_PATH

    @model_validator(mode="after")
    def _defaults_from_home(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'dagy.db'}"
        if self.auth_mode is None:
            self.auth_mode = AuthMode.EMAIL if is_loopback(self.host) else AuthMode.PASSWORD
        if self.smtp_url is not None:
            self._apply_smtp_url(self.smtp_url.get_secret_value())
        return self

    def _apply_smtp_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "smtp" or not parts.hostname:
            raise ValueError("DAGY_SMTP_URL must look like smtp://user:password@host:587")
        self.smtp_host = parts.hostname
        self.smtp_port = parts.port or 587
        self.smtp_username = unquote(parts.username or "")
        self.smtp_password = SecretStr(unquote(parts.password)) if parts.password else None
        self.smtp_starttls = True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def own_url(self) -> str:
        """The URL this server answers on, as a client on the same host reaches it."""
        host = self.host
        if host in ("0.0.0.0", "", "::"):  # noqa: S104 - recognising the wildcard, not binding to it
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def host_settings(self) -> HostSettings:
        """What the server lets the work it does itself reach: the embedded worker's runs, alert
        deliveries (the private network, SMTP, the vector store's folder)."""
        return HostSettings(
            allow_private_network=self.allow_private_network,
            smtp_host=self.smtp_host or None,
            smtp_port=self.smtp_port,
            smtp_username=self.smtp_username or None,
            smtp_password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            smtp_from=self.smtp_from,
            smtp_starttls=self.smtp_starttls,
            vector_dir=str(self.home / "vectors"),
        )

    def ensure_home(self) -> None:
        """Create DAGY_HOME and fill in generated keys that were not configured."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.secret_key is None:
            self.secret_key = SecretStr(_read_or_create_key(self.home / "secret.key"))
        if self.worker_token is None:
            self.worker_token = SecretStr(_read_or_create_key(self.home / "worker.token"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_or_create_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(value)
    return value
