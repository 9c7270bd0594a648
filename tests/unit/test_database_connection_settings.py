"""PostgreSQL's connection settings: several hosts in DATABASE_HOST or DATABASE_URL reach libpq
as its multi-host lists, the session kind and TLS files as its parameters, and DATABASE_URL's
query wins over the variables (as the URL wins over the parts)."""

from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.config import ConfigurationError, Settings, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir("/")  # no .env file
    get_settings.cache_clear()


def libpq_arguments(settings: Settings) -> dict[str, Any]:
    """What SQLAlchemy's psycopg dialect hands psycopg (and so libpq) for this URL (an engine
    connects to nothing until it is used)."""
    engine = create_engine(settings.database_url)
    _, arguments = engine.dialect.create_connect_args(make_url(settings.database_url))
    return {**arguments, **settings.database_connect_parameters}


@pytest.mark.parametrize(
    ("hosts", "expected_host", "expected_port"),
    [
        ("pg-a,pg-b", "pg-a,pg-b", "5432,5432"),
        ("127.0.0.1:5433,127.0.0.1:5434", "127.0.0.1,127.0.0.1", "5433,5434"),
        ("pg-a:6432, pg-b", "pg-a,pg-b", "6432,5432"),
        ("[::1]:5433,::1", "::1,::1", "5433,5432"),
    ],
)
def test_several_hosts_reach_libpq_as_its_lists(
    monkeypatch: pytest.MonkeyPatch, hosts: str, expected_host: str, expected_port: str
) -> None:
    monkeypatch.setenv("DATABASE_HOST", hosts)
    arguments = libpq_arguments(get_settings())
    assert arguments["host"] == expected_host
    assert arguments["port"] == expected_port
    assert arguments["target_session_attrs"] == "read-write"


def test_one_host_keeps_the_plain_url() -> None:
    settings = Settings(DATABASE_HOST="pg.internal:6543")
    assert settings.database_url == "postgresql+psycopg://postgres:secret@pg.internal:6543/app_db"
    assert settings.database_connect_parameters == {"target_session_attrs": "read-write"}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:p@/db?host=pg-a:5432&host=pg-b:5433",
        "postgresql+psycopg://u:p@/db?host=pg-a,pg-b&port=5432,5433",
    ],
)
def test_a_multi_host_database_url_works_in_both_of_sqlalchemys_forms(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    arguments = libpq_arguments(get_settings())
    assert (arguments["host"], arguments["port"]) == ("pg-a,pg-b", "5432,5433")
    assert arguments["target_session_attrs"] == "read-write"


def test_tls_variables_are_libpq_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_SSLMODE", "verify-full")
    monkeypatch.setenv("DATABASE_SSLROOTCERT", "/run/secrets/pg/ca.crt")
    monkeypatch.setenv("DATABASE_SSLCERT", "/run/secrets/pg/tls.crt")
    monkeypatch.setenv("DATABASE_SSLKEY", "/run/secrets/pg/tls.key")
    assert get_settings().database_connect_parameters == {
        "target_session_attrs": "read-write",
        "sslmode": "verify-full",
        "sslrootcert": "/run/secrets/pg/ca.crt",
        "sslcert": "/run/secrets/pg/tls.crt",
        "sslkey": "/run/secrets/pg/tls.key",
    }


def test_without_tls_variables_libpq_keeps_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "sslmode" not in Settings().database_connect_parameters
    # Deploy artifacts render an unused setting as an empty value: that is "not set" too.
    for variable in (
        "DATABASE_SSLMODE",
        "DATABASE_SSLROOTCERT",
        "DATABASE_SSLCERT",
        "DATABASE_SSLKEY",
    ):
        monkeypatch.setenv(variable, "")
    assert get_settings().database_connect_parameters == {"target_session_attrs": "read-write"}


def test_the_urls_query_wins_over_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_SSLMODE", "require")
    monkeypatch.setenv("DATABASE_TARGET_SESSION_ATTRS", "any")
    monkeypatch.setenv(
        "DATABASE_URL",
        "postgresql+psycopg://u:p@h/d?sslmode=verify-full&target_session_attrs=primary",
    )
    settings = get_settings()
    arguments = libpq_arguments(settings)
    assert arguments["sslmode"] == "verify-full"
    assert arguments["target_session_attrs"] == "primary"
    assert settings.database_sslmode_in_effect == "verify-full"


def test_the_sslmode_in_effect_is_the_variables_without_one_in_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert get_settings().database_sslmode_in_effect is None
    get_settings.cache_clear()
    monkeypatch.setenv("DATABASE_SSLMODE", "verify-ca")
    assert get_settings().database_sslmode_in_effect == "verify-ca"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_HOST", "pg-a,,pg-b"),
        ("DATABASE_HOST", "pg-a:notaport"),
        ("DATABASE_HOST", "pg-a:70000"),
        ("DATABASE_HOST", ":5432"),
        ("DATABASE_TARGET_SESSION_ATTRS", "primary-ish"),
        ("DATABASE_SSLMODE", "verify"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert variable in str(raised.value)
