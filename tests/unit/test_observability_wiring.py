"""The local stack's observability wiring and the API's dependency metrics, without servers:
rule holds scale with the cadence, Prometheus is pointed at the local Alertmanager and
exporters (and forgets missing ones), and the health checker hook publishes its results."""

import shutil
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from app.dependency_metrics import record_health_report
from app.health import HealthChecker, HealthReport
from devstack import observability
from devstack.config import PORT_VARIABLES, StackConfig
from devstack.services import render_prometheus_config


def test_duration_parsing() -> None:
    assert observability.duration_seconds("15s") == 15
    assert observability.duration_seconds("1m") == 60
    assert observability.duration_seconds("1h30m") == 5400
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        observability.duration_seconds("5 minutes")


def stack_config(tmp_path: Path, scrape_interval: str) -> StackConfig:
    ports = {name: 10000 + index for index, name in enumerate(PORT_VARIABLES)}
    return StackConfig(tmp_path, ports, scrape_interval=scrape_interval)


def holds(paths: list[str]) -> dict[str, str]:
    return {
        rule["alert"]: rule["for"]
        for path in paths
        for group in yaml.safe_load(Path(path).read_text())["groups"]
        for rule in group["rules"]
        if "for" in rule
    }


def test_rule_holds_scale_with_a_faster_cadence(tmp_path: Path) -> None:
    fast = yaml.safe_load(render_prometheus_config(stack_config(tmp_path, "1s")).read_text())
    scaled = holds(fast["rule_files"])
    assert scaled["SbsRedisDown"] == "4s"  # 1m at 1/15 of the cadence
    assert scaled["SbsApiErrorBudgetSlowBurn"] == "60s"  # 15m
    assert all(Path(path).is_relative_to(tmp_path) for path in fast["rule_files"])


def test_rules_are_used_as_committed_at_the_normal_cadence(tmp_path: Path) -> None:
    normal = yaml.safe_load(render_prometheus_config(stack_config(tmp_path, "15s")).read_text())
    assert holds(normal["rule_files"])["SbsRedisDown"] == "1m"
    assert all("monitoring/prometheus/rules" in path for path in normal["rule_files"])


def test_prometheus_points_at_the_local_alertmanager_and_exporters(tmp_path: Path) -> None:
    config = stack_config(tmp_path, "1s")
    document = yaml.safe_load(render_prometheus_config(config).read_text())
    (alertmanager,) = document["alerting"]["alertmanagers"]
    assert alertmanager["static_configs"][0]["targets"] == [
        f"127.0.0.1:{config.ports['alertmanager']}"
    ]
    jobs = {job["job_name"]: job for job in document["scrape_configs"]}
    assert jobs["redis"]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{config.ports['redis_exporter']}"
    ]
    assert jobs["redis"]["scrape_timeout"] == observability.EXPORTER_MIN_SCRAPE
    assert jobs["nats"]["static_configs"][0]["targets"] == [config.url("nats_monitor", "/healthz")]
    (address,) = [r for r in jobs["nats"]["relabel_configs"] if r["target_label"] == "__address__"]
    assert address["replacement"] == f"127.0.0.1:{config.ports['blackbox_exporter']}"


def test_missing_packages_drop_their_jobs_and_alerting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    document = yaml.safe_load(render_prometheus_config(stack_config(tmp_path, "15s")).read_text())
    assert "alerting" not in document
    jobs = {job["job_name"] for job in document["scrape_configs"]}
    assert jobs == {"sbs-api", "sbs-worker", "temporal", "prometheus"}


def sample(name: str, dependency: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"dependency": dependency})


async def test_health_checker_hook_publishes_each_dependency() -> None:
    async def passes() -> None:
        return None

    async def fails() -> None:
        raise ConnectionError("refused")

    reports: list[HealthReport] = []

    def hook(report: HealthReport) -> None:
        reports.append(report)
        record_health_report(report)

    checker = HealthChecker({"unit-up": passes, "unit-down": fails}, timeout=1, on_report=hook)
    report = await checker.report()
    assert reports == [report]
    assert sample("sbs_dependency_up", "unit-up") == 1
    assert sample("sbs_dependency_up", "unit-down") == 0
    duration = sample("sbs_dependency_check_duration_seconds", "unit-down")
    assert duration is not None
    assert 0 <= duration < 1
    checked_at = sample("sbs_dependency_last_check_timestamp_seconds", "unit-up")
    assert checked_at is not None
    assert checked_at > 1.7e9
