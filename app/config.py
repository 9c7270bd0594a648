"""Platform settings: every environment variable the API and the worker read, with its default."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, ValidationError, computed_field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

# The local defaults that must never reach production.
DEV_TOKEN = "dev-token"  # noqa: S105 - the local stack's and compose's token
LOCAL_DATABASE_PASSWORD = "secret"  # noqa: S105 - the spec's local default
MIN_PRODUCTION_TOKEN_LENGTH = 32

# libpq's choices (https://www.postgresql.org/docs/current/libpq-connect.html).
TargetSessionAttrs = Literal[
    "any", "read-write", "read-only", "primary", "standby", "prefer-standby"
]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


def split_host_port(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port or None)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else None
        if rest and port_text is None:
            raise ValueError(f"{entry!r} is not host, host:port or [IPv6]:port")
    elif entry.count(":") == 1:
        host, port_text = entry.split(":")
    else:  # a name, an IPv4 address, or an IPv6 address without a port
        host, port_text = entry, None
    if not host:
        raise ValueError(f"{entry!r} names no host")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def parse_hosts(value: str) -> list[tuple[str, int | None]]:
    """A comma-separated list of `host` or `host:port` entries (libpq's multi-host form)."""
    entries = [entry.strip() for entry in value.split(",")]
    if not all(entries):
        raise ValueError(f"{value!r} has an empty entry: list hosts as 'a,b' or 'a:5432,b:5433'")
    return [split_host_port(entry) for entry in entries]


class Settings(BaseSettings):
    """One place for configuration; defaults match the compose stack of the README."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # PostgreSQL: DATABASE_URL wins over the separate parts (and its query over the libpq
    # parameters below). DATABASE_HOST may list several servers, `a,b` or `a:5432,b:5433`:
    # libpq tries them in order for one that matches DATABASE_TARGET_SESSION_ATTRS.
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
    # `read-write`: only a primary is used, so a standby listed first (or a promoted one's old
    # primary coming back as a standby) is skipped.
    database_target_session_attrs: TargetSessionAttrs = "read-write"
    # TLS: libpq's sslmode (unset: libpq's default, `prefer`) and certificate files.
    database_sslmode: SslMode | None = None
    database_sslrootcert: str | None = None
    database_sslcert: str | None = None
    database_sslkey: str | None = None

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

    @field_validator(
        "database_sslmode",
        "database_sslrootcert",
        "database_sslcert",
        "database_sslkey",
        mode="before",
    )
    @classmethod
    def empty_means_unset(cls, value: object) -> object:
        """An empty value (compose's `${VAR:-}`, a chart's "") leaves libpq its default."""
        return None if value == "" else value

    @field_validator("database_host")
    @classmethod
    def hosts_are_a_list_of_host_port(cls, value: str) -> str:
        parse_hosts(value)
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL as given, else built from DATABASE_* parts.

        Several hosts go in the query as `host=a,b&port=p,q` (SQLAlchemy's psycopg dialect
        passes them to libpq as its multi-host lists), a single host in the URL itself.
        """
        if self.database_url_override:
            return self.database_url_override
        hosts = [
            (host, port or self.database_port) for host, port in parse_hosts(self.database_host)
        ]
        url = URL.create(
            "postgresql+psycopg",
            username=self.database_user,
            password=self.database_password,
            database=self.database_name,
        )
        if len(hosts) == 1:
            url = url.set(host=hosts[0][0], port=hosts[0][1])
        else:
            names = ",".join(host for host, _ in hosts)
            ports = ",".join(str(port) for _, port in hosts)
            url = url.set(query={"host": names, "port": ports})
        return url.render_as_string(hide_password=False)

    @property
    def database_connect_parameters(self) -> dict[str, str]:
        """libpq parameters from DATABASE_TARGET_SESSION_ATTRS and DATABASE_SSL*, for every
        engine's `connect_args`; one that DATABASE_URL's query sets itself is left to it."""
        given = make_url(self.database_url).query
        parameters = {
            "target_session_attrs": self.database_target_session_attrs,
            "sslmode": self.database_sslmode,
            "sslrootcert": self.database_sslrootcert,
            "sslcert": self.database_sslcert,
            "sslkey": self.database_sslkey,
        }
        return {
            name: value
            for name, value in parameters.items()
            if value is not None and name not in given
        }

    @property
    def database_sslmode_in_effect(self) -> str | None:
        """The sslmode libpq gets: DATABASE_URL's query, else DATABASE_SSLMODE; None leaves
        libpq's default (`prefer`, which falls back to clear text)."""
        query_mode = make_url(self.database_url).query.get("sslmode")
        return str(query_mode) if query_mode is not None else self.database_sslmode

    @property
    def temporal_address(self) -> str:
        return f"{self.temporal_host}:{self.temporal_port}"

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
