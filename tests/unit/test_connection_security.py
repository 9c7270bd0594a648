"""Which dependencies the settings reach without TLS, and the one warning line per dependency
that production logs about them."""

import logging
from pathlib import Path

import pytest

from app.config import Settings
from app.connection_security import (
    dependencies_without_tls,
    warn_about_dependencies_without_tls,
)

PRODUCTION = {"SBS_ENVIRONMENT": "production", "SBS_API_TOKEN": "p" * 32}
ALL_TLS = {
    "DATABASE_URL": "postgresql+psycopg://u:real@db:5432/app?sslmode=verify-full",
    "REDIS_URL": "rediss://redis:6380/0",
    "NATS_URL": "tls://nats-0:4222,tls://nats-1:4222",
    "TEMPORAL_TLS": "true",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir("/")  # no .env file


def settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    return Settings()


def test_the_local_defaults_reach_every_dependency_without_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert dependencies_without_tls(settings(monkeypatch)) == [
        "postgresql",
        "redis",
        "nats",
        "temporal",
    ]


def test_every_dependency_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert dependencies_without_tls(settings(monkeypatch, **ALL_TLS)) == []


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DATABASE_URL", "postgresql+psycopg://u:real@db/app", "postgresql"),
        ("DATABASE_URL", "postgresql+psycopg://u:real@db/app?sslmode=prefer", "postgresql"),
        ("DATABASE_URL", "postgresql+psycopg://u:real@db/app?sslmode=disable", "postgresql"),
        ("REDIS_URL", "redis://redis:6379/0", "redis"),
        ("NATS_URL", "nats://nats:4222", "nats"),
        ("NATS_URL", "tls://nats-0:4222,nats://nats-1:4222", "nats"),  # one plain member
        ("TEMPORAL_TLS", "false", "temporal"),
    ],
)
def test_one_plain_dependency_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    variables = {**ALL_TLS, variable: value}
    assert dependencies_without_tls(settings(monkeypatch, **variables)) == [named]


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_postgresql_modes_that_refuse_plain_connections(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    url = f"postgresql+psycopg://u:real@db/app?sslmode={mode}"
    variables = {**ALL_TLS, "DATABASE_URL": url}
    assert dependencies_without_tls(settings(monkeypatch, **variables)) == []


def test_a_temporal_ca_file_implies_tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"ca")
    variables = {
        **ALL_TLS,
        "TEMPORAL_TLS": "false",
        "TEMPORAL_TLS_CA_FILE": str(tmp_path / "ca.pem"),
    }
    assert dependencies_without_tls(settings(monkeypatch, **variables)) == []


def test_production_warns_once_per_plain_dependency(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    variables = {**PRODUCTION, **ALL_TLS, "REDIS_URL": "redis://r:6379/0", "TEMPORAL_TLS": "0"}
    logger = logging.getLogger("test.connection_security")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        warn_about_dependencies_without_tls(settings(monkeypatch, **variables), logger)
    assert [record.getMessage() for record in caplog.records] == [
        "redis is reached without TLS in production",
        "temporal is reached without TLS in production",
    ]
    assert all(record.levelno == logging.WARNING for record in caplog.records)


def test_other_environments_do_not_warn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test.connection_security")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        warn_about_dependencies_without_tls(settings(monkeypatch), logger)
    assert caplog.records == []
