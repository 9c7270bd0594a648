"""Proves the observability part of docker-compose.yml agrees with the monitoring files: every
Prometheus target (and the blackbox exporter's probe address and the Alertmanager address) is a
compose service, Alertmanager and the blackbox exporter mount their directories, and the
PostgreSQL exporter uses the database's own credentials; docker-compose.tracing.yml adds Jaeger
and points the API and the worker at it without changing anything else. Compose v2 renders
the files."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.monitoring.monitoring_files import PROMETHEUS_CONFIG, ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"

TRACING_OVERLAY = ROOT / "docker-compose.tracing.yml"


def render(*files: Path, home: Path) -> dict[str, dict[str, Any]]:
    env_file = home / "empty.env"
    env_file.write_text("")
    arguments = [argument for path in files for argument in ("-f", str(path))]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "docker-compose"),
            *arguments,
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered: dict[str, dict[str, Any]] = json.loads(result.stdout)["services"]
    return rendered


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return render(COMPOSE_FILE, home=tmp_path_factory.mktemp("compose"))


def prometheus_addresses() -> set[str]:
    """host:port of every job target, probe address and Alertmanager Prometheus talks to."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    addresses = set()
    for job in config["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            addresses.add(urlsplit(target).netloc if "://" in target else target)
        for relabel in job.get("relabel_configs", []):
            if relabel.get("target_label") == "__address__":
                addresses.add(relabel["replacement"])
    for alertmanager in config["alerting"]["alertmanagers"]:
        addresses.update(alertmanager["static_configs"][0]["targets"])
    addresses.discard("localhost:9090")  # Prometheus itself
    return addresses


def test_every_prometheus_address_is_a_compose_service(
    services: dict[str, dict[str, Any]],
) -> None:
    addresses = prometheus_addresses()
    assert len(addresses) >= 8, addresses
    for address in addresses:
        host, _, _port = address.rpartition(":")
        assert host in services, f"Prometheus uses {address}, compose has no service {host}"


def test_observability_services_mount_their_configs(services: dict[str, dict[str, Any]]) -> None:
    mounts = {
        (name, Path(volume["source"]).relative_to(ROOT).as_posix(), volume["target"])
        for name, service in services.items()
        for volume in service.get("volumes", [])
        if volume.get("type") == "bind"
    }
    assert ("alertmanager", "monitoring/alertmanager", "/etc/alertmanager") in mounts
    assert ("blackbox-exporter", "monitoring/blackbox", "/etc/blackbox_exporter") in mounts
    command = services["alertmanager"]["command"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in command
    assert (
        "--config.file=/etc/blackbox_exporter/blackbox.yml"
        in services["blackbox-exporter"]["command"]
    )


def test_postgres_exporter_uses_the_database_credentials(
    services: dict[str, dict[str, Any]],
) -> None:
    database = services["db"]["environment"]
    exporter = services["postgres-exporter"]["environment"]
    assert exporter["DATA_SOURCE_USER"] == database["POSTGRES_USER"]
    assert exporter["DATA_SOURCE_PASS"] == database["POSTGRES_PASSWORD"]
    assert exporter["DATA_SOURCE_URI"].startswith(f"db:5432/{database['POSTGRES_DB']}?")
    assert services["redis-exporter"]["environment"]["REDIS_ADDR"] == "redis://redis:6379"


def test_tracing_overlay_sends_both_services_to_jaeger(tmp_path: Path) -> None:
    base = render(COMPOSE_FILE, home=tmp_path)
    traced = render(COMPOSE_FILE, TRACING_OVERLAY, home=tmp_path)
    assert "jaeger" not in base
    for name in ("api", "worker"):
        assert not any(
            variable.startswith("OTEL_EXPORTER") for variable in base[name]["environment"]
        )
        environment = traced[name]["environment"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
        assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        # The overlay adds to the base settings instead of replacing them.
        assert base[name]["environment"].items() <= environment.items()
        assert traced[name]["depends_on"]["jaeger"]["condition"] == "service_healthy"
        assert base[name]["depends_on"].items() <= traced[name]["depends_on"].items()
    assert traced["api"]["environment"]["OTEL_SERVICE_NAME"] == "sbs-api"
    assert traced["worker"]["environment"]["OTEL_SERVICE_NAME"] == "sbs-worker"
    jaeger = traced["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:1.")
    assert {(int(p["published"]), int(p["target"])) for p in jaeger["ports"]} == {(16686, 16686)}
    assert jaeger["healthcheck"]["test"]
