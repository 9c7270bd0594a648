"""Proves the Prometheus files: promtool accepts the config and the rules, the alert rule unit
tests pass, the scrape jobs match the platform contract (one target each), and every alert has
a severity, a summary and a description."""

import subprocess

import yaml
from monitoring_files import ALERT_RULE_TESTS, ALERT_RULES, PROMETHEUS_CONFIG, alert_rules

CONTRACT_JOBS = {
    "sbs-api": "api:8000",
    "sbs-worker": "worker:9464",
    "temporal": "temporal:9091",
    "prometheus": "localhost:9090",
}
REQUIRED_ALERTS = {
    "SbsApiDown",
    "SbsApiHighErrorRate",
    "SbsApiHighLatency",
    "SbsWorkerDown",
    "SbsWorkflowFailures",
}


def run_promtool(promtool: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *arguments], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_config_and_finds_the_rules(promtool: str) -> None:
    result = run_promtool(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule_files glob is relative to the config file and must match our rules file.
    assert "1 rule files found" in result.stdout + result.stderr


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = run_promtool(promtool, "check", "rules", str(ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(alert_rules())} rules found" in result.stdout + result.stderr


def test_alert_rule_unit_tests_pass(promtool: str) -> None:
    result = run_promtool(promtool, "test", "rules", str(ALERT_RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


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
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert jobs == CONTRACT_JOBS


def test_every_alert_is_labelled_and_explained() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]


def test_down_alerts_wait_one_minute() -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules()}
    assert by_name["SbsApiDown"]["expr"].strip() == 'up{job="sbs-api"} == 0'
    assert by_name["SbsWorkerDown"]["expr"].strip() == 'up{job="sbs-worker"} == 0'
    assert by_name["SbsApiDown"]["for"] == "1m"
    assert by_name["SbsWorkerDown"]["for"] == "1m"
