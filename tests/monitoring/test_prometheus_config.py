"""Proves the Prometheus files: promtool accepts the config and the rules, the alert rule unit
tests pass (and every alert has one), the scrape jobs match the platform contract (one target
each; NATS probed through the blackbox exporter), alerts go to Alertmanager, and every alert
has a severity, a component Alertmanager's inhibition knows, a summary and a description."""

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.monitoring.monitoring_files import (
    PROMETHEUS_CONFIG,
    RULE_FILES,
    RULE_TEST_FILES,
    alert_rules,
    all_rules,
)

CONTRACT_JOBS = {
    "sbs-api": "api:8000",
    "sbs-worker": "worker:9464",
    "temporal": "temporal:9091",
    "postgresql": "postgres-exporter:9187",
    "redis": "redis-exporter:9121",
    "nats": "http://nats:8222/healthz",
    "alertmanager": "alertmanager:9093",
    "prometheus": "localhost:9090",
}
REQUIRED_ALERTS = {
    "SbsApiDown",
    "SbsApiHighErrorRate",
    "SbsApiHighLatency",
    "SbsWorkerDown",
    "SbsWorkflowFailures",
    "SbsWorkflowNondeterminism",
    "SbsPostgresqlDown",
    "SbsRedisDown",
    "SbsNatsDown",
    "SbsTemporalDown",
    "SbsExporterDown",
    "SbsApiSeesDependencyDown",
    "SbsWorkersNotPolling",
    "SbsWorkerPollersNotSeen",
    "SbsApiErrorBudgetFastBurn",
    "SbsApiErrorBudgetSlowBurn",
    "SbsApiLatencyBudgetFastBurn",
    "SbsApiLatencyBudgetSlowBurn",
}
COMPONENTS = {"availability", "api-slo", "workflows", "dependency", "monitoring"}
DEPENDENCY_ALERTS = {
    "SbsPostgresqlDown": "postgresql",
    "SbsRedisDown": "redis",
    "SbsNatsDown": "nats",
    "SbsTemporalDown": "temporal",
}


def run_promtool(promtool: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *arguments], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_config_and_finds_the_rules(promtool: str) -> None:
    result = run_promtool(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule_files glob is relative to the config file and must match our rules files.
    assert f"{len(RULE_FILES)} rule files found" in result.stdout + result.stderr
    assert len(RULE_FILES) == 3, RULE_FILES


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run_promtool(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    found = sum(
        int(line.split()[1]) for line in result.stdout.splitlines() if "rules found" in line
    )
    assert found == len(all_rules())


@pytest.mark.parametrize("test_file", RULE_TEST_FILES, ids=lambda path: path.name)
def test_alert_rule_unit_tests_pass(promtool: str, test_file: Path) -> None:
    result = run_promtool(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_rule_file_has_a_unit_test_file() -> None:
    tested = {
        (test_file.parent / rule_file).resolve()
        for test_file in RULE_TEST_FILES
        for rule_file in yaml.safe_load(test_file.read_text())["rule_files"]
    }
    assert tested == {path.resolve() for path in RULE_FILES}


def test_every_alert_is_unit_tested_firing() -> None:
    """Each alert appears in a promtool test that expects it to fire (not only to stay quiet)."""
    fired = {
        case["alertname"]
        for test_file in RULE_TEST_FILES
        for test in yaml.safe_load(test_file.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in alert_rules()} <= fired


def test_unit_tests_catch_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """Mutation: a Redis alert that watches the wrong series makes its unit test fail."""
    rules = tmp_path / "sbs-dependencies.yml"
    source = (PROMETHEUS_CONFIG.parent / "rules" / "sbs-dependencies.yml").read_text()
    broken = source.replace('expr: redis_up{job="redis"} == 0', 'expr: redis_up{job="redis"} == 2')
    assert broken != source
    rules.write_text(broken)
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    test_file = tests_dir / "sbs-dependencies.test.yml"
    test_file.write_text(
        (PROMETHEUS_CONFIG.parent / "rules" / "tests" / "sbs-dependencies.test.yml").read_text()
    )
    result = run_promtool(promtool, "test", "rules", str(test_file))
    assert result.returncode != 0
    assert "SbsRedisDown" in result.stdout + result.stderr


def test_scrape_jobs_match_the_contract() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == ["rules/*.yml"]
    jobs = {}
    for job in config["scrape_configs"]:
        # One static target per job: the Docker-less stack rewrites it per job name.
        (static_config,) = job["static_configs"]
        (target,) = static_config["targets"]
        jobs[job["job_name"]] = target
        expected_path = "/probe" if job["job_name"] == "nats" else "/metrics"
        assert job.get("metrics_path", "/metrics") == expected_path
    assert jobs == CONTRACT_JOBS


def test_nats_is_probed_through_the_blackbox_exporter() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (nats,) = [job for job in config["scrape_configs"] if job["job_name"] == "nats"]
    assert nats["params"] == {"module": ["http_2xx"]}
    relabels = {relabel["target_label"]: relabel for relabel in nats["relabel_configs"]}
    assert relabels["__param_target"]["source_labels"] == ["__address__"]
    assert relabels["instance"]["source_labels"] == ["__param_target"]
    assert relabels["__address__"]["replacement"] == "blackbox-exporter:9115"


def test_alerts_are_sent_to_alertmanager() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (alertmanager,) = config["alerting"]["alertmanagers"]
    assert alertmanager["static_configs"] == [{"targets": ["alertmanager:9093"]}]


def test_every_alert_is_labelled_and_explained() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["labels"]["component"] in COMPONENTS, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_dependency_down_alerts_name_the_dependency_and_inhibit() -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules()}
    for name, dependency in DEPENDENCY_ALERTS.items():
        labels = by_name[name]["labels"]
        assert labels["dependency"] == dependency, name
        # component=dependency + critical is what Alertmanager's inhibit rules match on.
        assert labels["component"] == "dependency", name
        assert labels["severity"] == "critical", name
        assert by_name[name]["for"] == "1m", name


def test_down_alerts_wait_one_minute() -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules()}
    assert by_name["SbsApiDown"]["expr"].strip() == 'up{job="sbs-api"} == 0'
    assert by_name["SbsWorkerDown"]["expr"].strip() == 'up{job="sbs-worker"} == 0'
    assert by_name["SbsApiDown"]["for"] == "1m"
    assert by_name["SbsWorkerDown"]["for"] == "1m"
