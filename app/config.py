"""Platform settings: every environment variable the API and the worker read, with its default."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, computed_field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

# The local defaults that must never reach production.
DEV_TOKEN = "dev-token"  # noqa: S105 - the local stack's and compose's token
LOCAL_DATABASE_PASSWORD = "secret"  # noqa: S105 - the spec's local default
MIN_PRODUCTION_TOKEN_LENGTH = 32
LOCAL_BUILD_ID = "local"  # the worker's build id when neither variable names one


class Settings(BaseSettings):
    """One place for configuration; defaults match the compose stack of the README."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # PostgreSQL: DATABASE_URL wins over the separate parts.
    database_url_override: str | None = Field(default=None, alias="DATABASE_URL")
    database_host: str = "db"
    database_port: int = Field(default=5432, ge=1, le=65535)
    database_user: str = "postgres"
    database_password: str = LOCAL_DATABASE_PASSWORD
    database_name: str = "app_db"
    database_wait_timeout: float = Field(default=60.0, gt=0)
    # Client-side bound on one request's database work (connect, pool checkout, statements):
    # holds even when the server accepts the connection and never answers.
    database_timeout: float = Field(default=3.0, gt=0)

    # Temporal
    temporal_host: str = "temporal"
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_namespace: str = "default"
    temporal_task_queue: str = "test-task-queue"
    temporal_wait_timeout: float = Field(default=60.0, gt=0)
    # Worker Versioning (README, "Версионирование воркеров"): the worker is one version of a
    # Worker Deployment. Self-promotion (make up, compose) makes each started worker current;
    # the Helm chart turns it off and promotes a version once all its pods poll.
    temporal_deployment_name: str = Field(default="sbs-worker", min_length=1)
    temporal_worker_build_id: str = ""  # empty: APP_BUILD, else LOCAL_BUILD_ID
    temporal_worker_self_promote: bool = True

    # Redis and NATS
    redis_url: str = "redis://redis:6379/0"
    nats_url: str = "nats://nats:4222"
    nats_subject: str = "backup.test"

    # Where this instance runs: `production` refuses the local defaults and guards the demos.
    sbs_environment: Literal["local", "test", "production"] = "local"

    # Identity and telemetry
    app_build: str = ""
    otel_service_name: str = "sbs-api"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # API
    api_host: str = "0.0.0.0"  # noqa: S104 - the API listens on all interfaces inside a container
    api_port: int = Field(default=8000, ge=1, le=65535)
    sbs_api_token: str = ""
    # Limits that keep one client from exhausting the API (see README, "Лимиты").
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1)
    max_request_header_bytes: int = Field(default=32 * 1024, ge=1024)
    http_header_timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    # On SIGTERM: not ready at once, keep serving this long, then stop accepting and finish.
    shutdown_drain_seconds: float = Field(default=5.0, ge=0)

    # Worker: its probes and metrics listen on WORKER_HOST (all interfaces in a container).
    worker_host: str = "0.0.0.0"  # noqa: S104 - probed by orchestrators inside a pod
    worker_metrics_port: int = Field(default=9464, ge=1, le=65535)
    worker_health_port: int = Field(default=8081, ge=1, le=65535)

    # Timeouts (seconds) for calls to dependencies
    health_check_timeout: float = Field(default=2.0, gt=0)
    dependency_connect_timeout: float = Field(default=3.0, gt=0)
    request_timeout: float = Field(default=5.0, gt=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL as given, else built from DATABASE_* parts."""
        if self.database_url_override:
            return self.database_url_override
        url = URL.create(
            "postgresql+psycopg",
            username=self.database_user,
            password=self.database_password,
            host=self.database_host,
            port=self.database_port,
            database=self.database_name,
        )
        return url.render_as_string(hide_password=False)

    @property
    def temporal_address(self) -> str:
        return f"{self.temporal_host}:{self.temporal_port}"

    @property
    def worker_build_id(self) -> str:
        """The worker's version within its deployment: TEMPORAL_WORKER_BUILD_ID, else APP_BUILD,
        else `local` (one version for every local restart, as an unversioned worker would be)."""
        return self.temporal_worker_build_id or self.app_build or LOCAL_BUILD_ID

    def database_url_redacted(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def is_production(self) -> bool:
        return self.sbs_environment == "production"

    @model_validator(mode="after")
    def refuse_local_secrets_in_production(self) -> "Settings":
        """In production the token and the database password must not be the local defaults."""
        if not self.is_production:
            return self
        problems = []
        if self.sbs_api_token == DEV_TOKEN:
            problems.append("SBS_API_TOKEN is the local dev token")
        elif len(self.sbs_api_token) < MIN_PRODUCTION_TOKEN_LENGTH:
            problems.append(
                f"SBS_API_TOKEN must be at least {MIN_PRODUCTION_TOKEN_LENGTH} characters"
            )
        if make_url(self.database_url).password == LOCAL_DATABASE_PASSWORD:
            variable = "DATABASE_URL" if self.database_url_override else "DATABASE_PASSWORD"
            problems.append(f"{variable} uses the local password 'secret'")
        if problems:
            raise ValueError(
                "SBS_ENVIRONMENT=production refuses local defaults: " + "; ".join(problems)
            )
        return self


class ConfigurationError(SystemExit):
    """Raised at start-up when a variable has an invalid value; the message names it."""


@lru_cache
def get_settings() -> Settings:
    """Load settings once; turn a validation error into a message naming each bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            if not item["loc"]:  # a check across variables: its message names them
                problems.append(item["msg"].removeprefix("Value error, "))
                continue
            variable = str(item["loc"][0]).upper()
            problems.append(f"{variable}: {item['msg']} (got {item.get('input')!r})")
        raise ConfigurationError("Invalid configuration: " + "; ".join(problems)) from None
