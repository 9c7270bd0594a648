"""Platform settings: every environment variable the API and the worker read, with its default."""

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import ip_address
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

# The local defaults that must never reach production.
DEV_TOKEN = "dev-token"  # noqa: S105 - the local stack's and compose's token
LOCAL_DATABASE_PASSWORD = "secret"  # noqa: S105 - the spec's local default
MIN_PRODUCTION_TOKEN_LENGTH = 32
# Signature algorithms a JWT may use: public-key ones only. `none` and HS* (a shared secret, which
# a verifier holding a public key could be tricked into using as the HMAC key) are never allowed.
ASYMMETRIC_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip


def comma_list(text: str) -> tuple[str, ...]:
    """`a, b,,c` → ("a", "b", "c")."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class TlsMaterial:
    """PEM contents of a dependency's TLS files, read once when the settings are loaded."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None


def read_tls_file(variable: str, path: Path | None) -> bytes | None:
    """The file's bytes; a missing or unreadable file is a ValueError naming `variable`."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise ValueError(f"{variable}: cannot read {path}: {error.strerror or error}") from None


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


LOCAL_BUILD_ID = "local"  # the worker's build id when neither variable names one


class Settings(BaseSettings):
    """One place for configuration; defaults match the compose stack (docs/deploy.md)."""

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
    # Migrations (app/migrations.py, alembic/env.py): how long one DDL statement may wait for its
    # table lock (while it waits, every other query on that table queues behind it), how many
    # times a migration stopped by that bound is tried again, and how long one statement may run.
    migration_lock_timeout: float = Field(default=5.0, gt=0)
    migration_lock_retries: int = Field(default=3, ge=0, le=20)
    migration_statement_timeout: float = Field(default=600.0, gt=0)

    # Temporal
    temporal_host: str = "temporal"
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_namespace: str = "default"
    temporal_task_queue: str = "test-task-queue"
    temporal_wait_timeout: float = Field(default=60.0, gt=0)
    # TLS to the frontend: TEMPORAL_TLS alone trusts the system CAs; a CA file (or a client
    # certificate and key, for mTLS) implies TLS. The files are read once, at start-up.
    temporal_tls: bool = False
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str | None = None
    _temporal_tls_material: TlsMaterial = PrivateAttr(default_factory=TlsMaterial)
    # Worker Versioning (docs/releases.md, "Версионирование воркеров"): the worker is one
    # version of a Worker Deployment. Self-promotion (make up, compose) makes each started worker
    # current; the Helm chart turns it off and promotes a version once all its pods poll.
    temporal_deployment_name: str = Field(default="sbs-worker", min_length=1)
    temporal_worker_build_id: str = ""  # empty: APP_BUILD, else LOCAL_BUILD_ID
    temporal_worker_self_promote: bool = True

    # Redis: one server by REDIS_URL, or, when REDIS_SENTINELS is set, the master that
    # Sentinel names (REDIS_PASSWORD is then the data nodes' password).
    redis_url: str = "redis://redis:6379/0"
    redis_sentinels: str = ""  # host:port,host:port,...
    redis_sentinel_master: str = "mymaster"
    redis_sentinel_password: str = ""
    redis_password: str = ""
    # TLS to Redis (`rediss://` in REDIS_URL): the CA that signed the server, optionally a
    # client certificate and key.
    redis_tls_ca_file: str = ""
    redis_tls_cert_file: str = ""
    redis_tls_key_file: str = ""
    # NATS: one server or a comma-separated list (the client learns the cluster's other
    # members from the servers); `tls://` URLs with the CA, optionally a client certificate.
    nats_url: str = "nats://nats:4222"
    nats_tls_ca_file: str = ""
    nats_tls_cert_file: str = ""
    nats_tls_key_file: str = ""
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
    # Static bearer tokens, comma-separated (several for rotation): every scope, subject
    # "static-token". Locally the dev token; in production an optional break-glass list.
    sbs_api_token: str = ""
    # OIDC/JWT bearer tokens from the company's identity provider (see docs/api.md, "Доступ").
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_algorithms: str = "RS256,ES256"
    # Claims whose values grant scopes (a space-separated string or a list; dotted = nested).
    oidc_scope_claims: str = "scope,scp,roles"
    oidc_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    # Keys are trusted this long, then fetched again; an unknown `kid` fetches them at most
    # once per OIDC_JWKS_REFRESH_INTERVAL (so a flood of made-up kids costs the IdP nothing).
    oidc_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    oidc_jwks_refresh_interval: float = Field(default=10.0, gt=0)
    oidc_jwks_timeout: float = Field(default=3.0, gt=0)
    # Limits that keep one client from exhausting the API (see docs/api.md, "Лимиты").
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
        "temporal_tls_ca_file",
        "temporal_tls_cert_file",
        "temporal_tls_key_file",
        "temporal_tls_server_name",
        mode="before",
    )
    @classmethod
    def empty_means_unset(cls, value: object) -> object:
        """An empty value (compose's `${VAR:-}`, a chart's "") is no value at all."""
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

    @property
    def temporal_tls_enabled(self) -> bool:
        return self.temporal_tls or any(
            path is not None
            for path in (
                self.temporal_tls_ca_file,
                self.temporal_tls_cert_file,
                self.temporal_tls_key_file,
            )
        )

    @property
    def temporal_tls_material(self) -> TlsMaterial:
        """The CA, client certificate and key as read at start-up (None where not set)."""
        return self._temporal_tls_material

    @property
    def worker_build_id(self) -> str:
        """The worker's version within its deployment: TEMPORAL_WORKER_BUILD_ID, else APP_BUILD,
        else `local` (one version for every local restart, as an unversioned worker would be)."""
        return self.temporal_worker_build_id or self.app_build or LOCAL_BUILD_ID

    def database_url_redacted(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def redis_sentinel_addresses(self) -> list[tuple[str, int]]:
        """REDIS_SENTINELS as (host, port) pairs; empty: plain REDIS_URL."""
        return [host_and_port(entry) for entry in comma_list(self.redis_sentinels)]

    @property
    def nats_servers(self) -> list[str]:
        """NATS_URL's servers, as the NATS CLI reads a comma-separated list."""
        return list(comma_list(self.nats_url))

    @property
    def is_production(self) -> bool:
        return self.sbs_environment == "production"

    @property
    def api_tokens(self) -> tuple[str, ...]:
        return comma_list(self.sbs_api_token)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @field_validator("oidc_algorithms")
    @classmethod
    def public_key_algorithms_only(cls, value: str) -> str:
        algorithms = comma_list(value)
        refused = [name for name in algorithms if name not in ASYMMETRIC_ALGORITHMS]
        if refused or not algorithms:
            raise ValueError(
                f"allowed are {', '.join(ASYMMETRIC_ALGORITHMS)} (never none or HS*); "
                f"refused: {', '.join(refused) or 'an empty list'}"
            )
        return value

    @field_validator("oidc_scope_claims")
    @classmethod
    def claim_names(cls, value: str) -> str:
        for path in comma_list(value):
            if not re.fullmatch(r"[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*", path):
                raise ValueError(f"{path!r} is not a claim name or a dotted path of claim names")
        return value

    @model_validator(mode="after")
    def oidc_settings_go_together(self) -> "Settings":
        given = {
            "OIDC_ISSUER": self.oidc_issuer,
            "OIDC_AUDIENCE": self.oidc_audience,
            "OIDC_JWKS_URL": self.oidc_jwks_url,
        }
        missing = [name for name, value in given.items() if not value]
        if missing and len(missing) < len(given):
            raise ValueError(f"{', '.join(given)} go together: {', '.join(missing)} missing")
        if not missing and self.oidc_jwks_timeout >= self.request_timeout:
            raise ValueError(
                f"OIDC_JWKS_TIMEOUT ({self.oidc_jwks_timeout:g}) must be below REQUEST_TIMEOUT "
                f"({self.request_timeout:g}): a request may wait for one JWKS fetch"
            )
        return self

    @model_validator(mode="after")
    def read_temporal_tls_files(self) -> "Settings":
        """Read the Temporal TLS files now, so a bad path stops the start naming its variable."""
        if (self.temporal_tls_cert_file is None) != (self.temporal_tls_key_file is None):
            raise ValueError(
                "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together (mTLS needs both)"
            )
        self._temporal_tls_material = TlsMaterial(
            ca=read_tls_file("TEMPORAL_TLS_CA_FILE", self.temporal_tls_ca_file),
            cert=read_tls_file("TEMPORAL_TLS_CERT_FILE", self.temporal_tls_cert_file),
            key=read_tls_file("TEMPORAL_TLS_KEY_FILE", self.temporal_tls_key_file),
        )
        return self

    @model_validator(mode="after")
    def check_redis_and_nats_connections(self) -> "Settings":
        """Sentinel addresses, server URLs and TLS files that cannot work are refused at
        start-up, named, instead of failing on the first request."""
        problems = []
        try:
            self.redis_sentinel_addresses  # noqa: B018 - parsed for its errors
        except ValueError as error:
            problems.append(f"REDIS_SENTINELS: {error}")
        if not self.nats_servers:
            problems.append("NATS_URL names no server")
        for server in self.nats_servers:
            scheme = urlsplit(server).scheme
            if scheme not in ("nats", "tls"):
                problems.append(f"NATS_URL: {server!r} is not a nats:// or tls:// URL")
        if (
            self.redis_tls_ca_file
            and not self.redis_sentinels
            and urlsplit(self.redis_url).scheme != "rediss"
        ):
            problems.append("REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss://")
        for prefix in ("REDIS_TLS", "NATS_TLS"):
            problems += tls_file_problems(
                prefix,
                *(getattr(self, f"{prefix.lower()}_{part}_file") for part in ("ca", "cert", "key")),
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def refuse_local_secrets_in_production(self) -> "Settings":
        """In production the token and the database password must not be the local defaults."""
        if not self.is_production:
            return self
        problems = []
        tokens = self.api_tokens
        if DEV_TOKEN in tokens:
            problems.append("SBS_API_TOKEN is the local dev token")
        elif any(len(token) < MIN_PRODUCTION_TOKEN_LENGTH for token in tokens):
            problems.append(
                f"SBS_API_TOKEN must be at least {MIN_PRODUCTION_TOKEN_LENGTH} characters"
                + (" (each of its comma-separated tokens)" if len(tokens) > 1 else "")
            )
        elif not tokens and not self.oidc_enabled:
            problems.append(
                "no caller could authenticate: set OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL, "
                f"or SBS_API_TOKEN (at least {MIN_PRODUCTION_TOKEN_LENGTH} characters)"
            )
        if self.oidc_enabled and not (
            self.oidc_jwks_url.startswith("https://") or is_loopback_url(self.oidc_jwks_url)
        ):
            problems.append("OIDC_JWKS_URL must be https:// (keys fetched in clear can be forged)")
        if make_url(self.database_url).password == LOCAL_DATABASE_PASSWORD:
            variable = "DATABASE_URL" if self.database_url_override else "DATABASE_PASSWORD"
            problems.append(f"{variable} uses the local password 'secret'")
        if problems:
            raise ValueError(
                "SBS_ENVIRONMENT=production refuses local defaults: " + "; ".join(problems)
            )
        return self


def host_and_port(entry: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`), the port required."""
    host, port = split_host_port(entry)
    if port is None:
        raise ValueError(f"{entry!r} is not host:port")
    return host, port


def tls_file_problems(prefix: str, ca_file: str, cert_file: str, key_file: str) -> list[str]:
    """A client certificate needs its key (and the reverse); every named file must be readable."""
    problems = []
    if bool(cert_file) != bool(key_file):
        problems.append(f"{prefix}_CERT_FILE and {prefix}_KEY_FILE go together")
    named = {"CA": ca_file, "CERT": cert_file, "KEY": key_file}
    for part, path in named.items():
        if path and not os.access(path, os.R_OK):
            problems.append(f"{prefix}_{part}_FILE: cannot read {path}")
    return problems


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
