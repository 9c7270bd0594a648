"""Settings: the spec's defaults, DATABASE_URL winning over its parts, and a start-up error
that names the bad variable."""

import pytest

from app.config import ConfigurationError, Settings, get_settings
from app.temporal.worker import deployment_config


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir("/")  # no .env file
    get_settings.cache_clear()


def test_defaults_match_the_spec() -> None:
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://postgres:secret@db:5432/app_db"
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "default"
    assert settings.temporal_task_queue == "test-task-queue"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.nats_url == "nats://nats:4222"
    assert settings.nats_subject == "backup.test"
    assert settings.otel_service_name == "sbs-api"
    assert settings.sbs_api_token == ""


def test_database_parts_build_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_HOST", "pg.internal")
    monkeypatch.setenv("DATABASE_PASSWORD", "p@ss/word")
    monkeypatch.setenv("DATABASE_NAME", "sbs")
    url = Settings().database_url
    assert url == "postgresql+psycopg://postgres:p%40ss%2Fword@pg.internal:5432/sbs"
    assert "p%40ss" not in Settings().database_url_redacted()


def test_database_url_wins_over_the_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_HOST", "ignored")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:p@h:1/d")
    assert Settings().database_url == "postgresql+psycopg://u:p@h:1/d"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_PORT", "not-a-port"),
        ("TEMPORAL_PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
        ("HEALTH_CHECK_TIMEOUT", "-1"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert variable in str(raised.value)
    assert value in str(raised.value)


PRODUCTION_TOKEN = "p" * 32


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SBS_API_TOKEN": "dev-token", "DATABASE_PASSWORD": "real"}, "SBS_API_TOKEN"),
        ({"SBS_API_TOKEN": "short", "DATABASE_PASSWORD": "real"}, "SBS_API_TOKEN"),
        ({"SBS_API_TOKEN": PRODUCTION_TOKEN}, "DATABASE_PASSWORD"),
        (
            {"SBS_API_TOKEN": PRODUCTION_TOKEN, "DATABASE_URL": "postgresql://u:secret@h/d"},
            "DATABASE_URL",
        ),
    ],
)
def test_production_refuses_the_local_defaults_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("SBS_ENVIRONMENT", "production")
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert named in str(raised.value)
    assert "SBS_ENVIRONMENT=production" in str(raised.value)


def test_production_starts_with_real_secrets_and_local_with_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SBS_API_TOKEN", "dev-token")
    assert get_settings().sbs_environment == "local"  # the spec's local calls keep working
    get_settings.cache_clear()
    monkeypatch.setenv("SBS_ENVIRONMENT", "production")
    monkeypatch.setenv("SBS_API_TOKEN", PRODUCTION_TOKEN)
    monkeypatch.setenv("DATABASE_PASSWORD", "a-real-password")
    assert get_settings().is_production


OIDC = {
    "OIDC_ISSUER": "https://idp.example.com/realms/sbs",
    "OIDC_AUDIENCE": "sbs-api",
    "OIDC_JWKS_URL": "https://idp.example.com/realms/sbs/protocol/openid-connect/certs",
}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"OIDC_ALGORITHMS": "RS256,HS256"}, "HS256"),
        ({"OIDC_ALGORITHMS": "none"}, "none"),
        ({"OIDC_ALGORITHMS": ""}, "OIDC_ALGORITHMS"),
        ({"OIDC_ISSUER": OIDC["OIDC_ISSUER"]}, "OIDC_AUDIENCE, OIDC_JWKS_URL missing"),
        ({**OIDC, "OIDC_AUDIENCE": ""}, "OIDC_AUDIENCE missing"),
        ({**OIDC, "OIDC_LEEWAY_SECONDS": "3600"}, "OIDC_LEEWAY_SECONDS"),
        ({**OIDC, "OIDC_SCOPE_CLAIMS": "scope realm_access.roles"}, "OIDC_SCOPE_CLAIMS"),
        ({**OIDC, "OIDC_JWKS_TIMEOUT": "5"}, "below REQUEST_TIMEOUT"),
    ],
    ids=[
        "hs256",
        "none",
        "no-algorithm",
        "issuer-alone",
        "no-audience",
        "hour-leeway",
        "space",
        "slow-jwks",
    ],
)
def test_oidc_settings_refuse_what_would_weaken_verification(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"SBS_API_TOKEN": f"{PRODUCTION_TOKEN},short"}, "each of its comma-separated tokens"),
        ({"SBS_API_TOKEN": f"{PRODUCTION_TOKEN},dev-token"}, "local dev token"),
        ({"SBS_API_TOKEN": ""}, "OIDC_ISSUER"),
        ({**OIDC, "OIDC_JWKS_URL": "http://idp.example.com/certs"}, "OIDC_JWKS_URL"),
    ],
    ids=["short-second-token", "dev-token-listed", "nobody-could-authenticate", "jwks-in-clear"],
)
def test_production_refuses_weak_access_settings(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("SBS_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_PASSWORD", "a-real-password")
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert named in str(raised.value)


def test_production_takes_oidc_alone_or_several_static_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SBS_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_PASSWORD", "a-real-password")
    for variable, value in OIDC.items():
        monkeypatch.setenv(variable, value)
    assert get_settings().oidc_enabled
    assert get_settings().api_tokens == ()
    get_settings.cache_clear()
    monkeypatch.setenv("SBS_API_TOKEN", f"{PRODUCTION_TOKEN}, {'q' * 40}")
    assert get_settings().api_tokens == (PRODUCTION_TOKEN, "q" * 40)


def test_sentinels_and_nats_servers_are_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "s1:26379, 10.0.0.2:26380,")
    monkeypatch.setenv("NATS_URL", "nats://a:4222, nats://b:4222 ,tls://c:4222")
    settings = get_settings()
    assert settings.redis_sentinel_addresses == [("s1", 26379), ("10.0.0.2", 26380)]
    assert settings.redis_sentinel_master == "mymaster"
    assert settings.nats_servers == ["nats://a:4222", "nats://b:4222", "tls://c:4222"]
    get_settings.cache_clear()
    monkeypatch.delenv("REDIS_SENTINELS")
    assert get_settings().redis_sentinel_addresses == []  # plain REDIS_URL


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"REDIS_SENTINELS": "s1"}, "REDIS_SENTINELS: 's1' is not host:port"),
        (
            {"REDIS_SENTINELS": "s1:99999"},
            "'s1:99999': the port must be a number",
        ),
        ({"NATS_URL": "nats://a:4222,http://b:80"}, "NATS_URL: 'http://b:80' is not"),
        ({"NATS_URL": " , "}, "NATS_URL names no server"),
        ({"REDIS_TLS_CA_FILE": "/etc/hostname"}, "REDIS_URL is not rediss://"),
        ({"REDIS_TLS_CA_FILE": "/no/ca.pem", "REDIS_URL": "rediss://r:6380"}, "cannot read"),
        ({"NATS_TLS_CERT_FILE": "/etc/hostname"}, "NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE"),
    ],
)
def test_connection_settings_that_cannot_work_are_named(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("variables", "build_id"),
    [
        ({}, "local"),
        ({"APP_BUILD": "abc123"}, "abc123"),
        ({"APP_BUILD": "abc123", "TEMPORAL_WORKER_BUILD_ID": "2026-12-04"}, "2026-12-04"),
    ],
)
def test_the_worker_build_id_falls_back_to_app_build_then_local(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], build_id: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.worker_build_id == build_id
    version = deployment_config(settings)
    assert version.use_worker_versioning
    assert version.version.deployment_name == "sbs-worker"
    assert version.version.build_id == build_id
    assert settings.temporal_worker_self_promote  # locally the worker makes itself current


def test_the_helm_setting_turns_self_promotion_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_WORKER_SELF_PROMOTE", "false")
    monkeypatch.setenv("TEMPORAL_DEPLOYMENT_NAME", "orders")
    settings = Settings()
    assert not settings.temporal_worker_self_promote
    assert deployment_config(settings).version.deployment_name == "orders"
