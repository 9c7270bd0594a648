"""Platform settings: every environment variable the API and the worker read, with its default."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url


class Settings(BaseSettings):
    """One place for configuration; defaults match the compose stack of the README."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # PostgreSQL: DATABASE_URL wins over the separate parts.
    database_url_override: str | None = Field(default=None, alias="DATABASE_URL")
    database_host: str = "db"
    database_port: int = Field(default=5432, ge=1, le=65535)
    database_user: str = "postgres"
    database_password: str = "secret"  # noqa: S105 - the spec's local default
    database_name: str = "app_db"
    database_wait_timeout: float = Field(default=60.0, gt=0)

    # Temporal
    temporal_host: str = "temporal"
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_namespace: str = "default"
    temporal_task_queue: str = "test-task-queue"
    temporal_wait_timeout: float = Field(default=60.0, gt=0)

    # Redis and NATS
    redis_url: str = "redis://redis:6379/0"
    nats_url: str = "nats://nats:4222"
    nats_subject: str = "backup.test"

    # Identity and telemetry
    app_build: str = ""
    otel_service_name: str = "sbs-api"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # API
    api_host: str = "0.0.0.0"  # noqa: S104 - the API listens on all interfaces inside a container
    api_port: int = Field(default=8000, ge=1, le=65535)
    sbs_api_token: str = ""

    # Worker
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

    def database_url_redacted(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)


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
            variable = str(item["loc"][0]).upper() if item["loc"] else "?"
            problems.append(f"{variable}: {item['msg']} (got {item.get('input')!r})")
        raise ConfigurationError("Invalid configuration: " + "; ".join(problems)) from None
