"""Proves the Alertmanager file: amtool accepts it (and rejects a broken copy), every alert
routes to a receiver that needs no secret, grouping keeps one notification per failing
dependency, and on a real Alertmanager the inhibition works: with PostgreSQL down the API's
error and the workflow alerts are suppressed while an API outage still shows; a copy without
the inhibit rules lets them through (so the check can fail)."""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devstack.servers.alertmanager import PACKAGE as ALERTMANAGER
from tests.monitoring.monitoring_files import ALERTMANAGER_CONFIG, alert_rules
from tests.waiting import answers_ok, poll, wait_for

HOST = "127.0.0.1"
START_TIMEOUT = 20.0
INHIBITION_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def amtool() -> str:
    """amtool from Debian's `prometheus-alertmanager`; its absence is a failure, never a skip."""
    path = shutil.which("amtool")
    if path is None or not ALERTMANAGER.installed():
        pytest.fail(
            "amtool/alertmanager not on PATH. Install Debian's package: "
            "apt-get install -y prometheus-alertmanager",
            pytrace=False,
        )
    return path


def check_config(amtool: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30, check=False
    )


def test_amtool_accepts_the_config(amtool: str) -> None:
    result = check_config(amtool, ALERTMANAGER_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_rejects_a_route_to_an_unknown_receiver(amtool: str, tmp_path: Path) -> None:
    """Mutation: the same check fails on a broken copy."""
    document = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    document["route"]["receiver"] = "no-such-receiver"
    broken = tmp_path / "alertmanager.yml"
    broken.write_text(yaml.safe_dump(document))
    result = check_config(amtool, broken)
    assert result.returncode != 0
    assert "no-such-receiver" in result.stdout + result.stderr


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_routes_to_the_default_receiver(amtool: str, rule: dict[str, Any]) -> None:
    labels = [f"alertname={rule['alert']}"] + [f"{k}={v}" for k, v in rule["labels"].items()]
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "default"


def test_default_receiver_needs_no_secret_and_grouping_names_the_dependency() -> None:
    document = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    (receiver,) = document["receivers"]
    assert receiver == {"name": "default"}  # the null receiver: works with nothing configured
    assert {"alertname", "dependency"} <= set(document["route"]["group_by"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_alertmanager(config: Path, workdir: Path) -> Iterator[httpx.Client]:
    port = free_port()
    log = (workdir / "alertmanager.log").open("w")
    child = subprocess.Popen(
        [
            ALERTMANAGER.binary(),
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=5) as client:

            def ready() -> bool:
                assert child.poll() is None, (workdir / "alertmanager.log").read_text()
                return answers_ok(f"http://{HOST}:{port}/-/ready")

            wait_for(ready, START_TIMEOUT, "alertmanager ready")
            yield client
    finally:
        child.terminate()
        child.wait(timeout=10)
        log.close()


def rule_labels(name: str) -> dict[str, str]:
    (rule,) = [rule for rule in alert_rules() if rule["alert"] == name]
    return {"alertname": name, **rule["labels"]}


OUTAGE = {
    # PostgreSQL is down; the API answers 5xx because of it, and workflows fail...
    "SbsPostgresqlDown": {"job": "postgresql", "instance": "postgres-exporter:9187"},
    "SbsApiHighErrorRate": {},
    "SbsApiErrorBudgetFastBurn": {},
    "SbsWorkflowFailures": {"workflow_type": "TestWorkflow", "task_queue": "test-task-queue"},
    # ...while an API process that died is a problem of its own.
    "SbsApiDown": {"job": "sbs-api", "instance": "api:8000"},
}
SUPPRESSED_DURING_OUTAGE = {
    "SbsApiHighErrorRate",
    "SbsApiErrorBudgetFastBurn",
    "SbsWorkflowFailures",
}


def states_after_outage(client: httpx.Client) -> dict[str, str]:
    now = datetime.now(UTC).isoformat()
    alerts = [
        {"labels": {**rule_labels(name), **extra}, "annotations": {}, "startsAt": now}
        for name, extra in OUTAGE.items()
    ]
    assert client.post("/api/v2/alerts", json=alerts).status_code == 200

    def current_states() -> dict[str, str]:
        received = client.get("/api/v2/alerts").json()
        return {alert["labels"]["alertname"]: alert["status"]["state"] for alert in received}

    def settled(states: dict[str, str]) -> bool:
        suppressed = {name for name, state in states.items() if state == "suppressed"}
        complete = len(states) == len(OUTAGE) and "unprocessed" not in states.values()
        return complete and suppressed == SUPPRESSED_DURING_OUTAGE

    return poll(current_states, settled, INHIBITION_TIMEOUT)


def test_a_dead_dependency_inhibits_the_symptoms_it_causes(tmp_path: Path) -> None:
    with running_alertmanager(ALERTMANAGER_CONFIG, tmp_path) as client:
        states = states_after_outage(client)
    for name in SUPPRESSED_DURING_OUTAGE:
        assert states[name] == "suppressed", states
    assert states["SbsPostgresqlDown"] == "active", states
    assert states["SbsApiDown"] == "active", states


def test_without_the_inhibit_rules_the_symptoms_page(tmp_path: Path) -> None:
    """Mutation: the inhibition check above fails on a copy without the inhibit rules."""
    document = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    document.pop("inhibit_rules")
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(document))
    with running_alertmanager(config, tmp_path) as client:
        states = states_after_outage(client)
    assert set(states.values()) == {"active"}, states
