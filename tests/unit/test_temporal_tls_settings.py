"""TEMPORAL_TLS_*: the files are read once when the settings load, a bad one stops the start
naming its variable, and the client gets the TLS configuration the variables describe."""

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from app.config import ConfigurationError, Settings, get_settings
from app.services.temporal import tls_config


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir("/")  # no .env file
    get_settings.cache_clear()


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in files.items():
        path.write_bytes(f"-----{name}-----\n".encode())
    return files


def test_plain_by_default() -> None:
    settings = Settings()
    assert not settings.temporal_tls_enabled
    assert tls_config(settings) is False


def test_tls_alone_trusts_the_system_certificate_authorities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    config = tls_config(get_settings())
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert is None
    assert config.client_cert is None


def test_the_files_are_read_at_start_up_and_imply_tls(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path]
) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CA_FILE", str(pem_files["ca"]))
    monkeypatch.setenv("TEMPORAL_TLS_CERT_FILE", str(pem_files["cert"]))
    monkeypatch.setenv("TEMPORAL_TLS_KEY_FILE", str(pem_files["key"]))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.example.internal")
    settings = get_settings()
    for path in pem_files.values():
        path.unlink()  # read once: the client no longer needs the files
    config = tls_config(settings)
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert == b"-----ca-----\n"
    assert config.client_cert == b"-----cert-----\n"
    assert config.client_private_key == b"-----key-----\n"
    assert config.domain == "temporal.example.internal"


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CA_FILE", "CERT_FILE", "KEY_FILE", "SERVER_NAME"):
        monkeypatch.setenv(f"TEMPORAL_TLS_{variable}", "")
    assert tls_config(get_settings()) is False


@pytest.mark.parametrize("variable", ["CA_FILE", "CERT_FILE", "KEY_FILE"])
def test_a_missing_file_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path], variable: str
) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CA_FILE", str(pem_files["ca"]))
    monkeypatch.setenv("TEMPORAL_TLS_CERT_FILE", str(pem_files["cert"]))
    monkeypatch.setenv("TEMPORAL_TLS_KEY_FILE", str(pem_files["key"]))
    monkeypatch.setenv(f"TEMPORAL_TLS_{variable}", "/nonexistent/tls.pem")
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert f"TEMPORAL_TLS_{variable}: cannot read /nonexistent/tls.pem" in str(raised.value)
    assert "No such file or directory" in str(raised.value)


def test_an_unreadable_file_stops_the_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CA_FILE", str(tmp_path))  # a directory, not a file
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert "TEMPORAL_TLS_CA_FILE: cannot read" in str(raised.value)


@pytest.mark.parametrize("given", ["CERT_FILE", "KEY_FILE"])
def test_a_client_certificate_needs_its_key(
    monkeypatch: pytest.MonkeyPatch, pem_files: dict[str, Path], given: str
) -> None:
    monkeypatch.setenv(f"TEMPORAL_TLS_{given}", str(pem_files["cert"]))
    with pytest.raises(ConfigurationError) as raised:
        get_settings()
    assert "TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together" in str(raised.value)
