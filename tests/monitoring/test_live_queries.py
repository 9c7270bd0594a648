"""Proves the dashboard and the alerts work on real data: a live Prometheus (the stack fixture,
1 s scrapes, our prometheus.yml and rules) scrapes the live API, worker, Temporal, the
PostgreSQL/Redis exporters, the blackbox probe of NATS and Alertmanager after real traffic (a
completed workflow, a 404, a refused write); then every dashboard query answers without error
and returns data unless it shows errors or failures, every alert and recording expression
evaluates, the rules are loaded and healthy, no availability or dependency alert is pending,
and Prometheus delivers to the stack's Alertmanager."""

import math
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.config import StackConfig
from tests.monitoring.monitoring_files import (
    DashboardQuery,
    alert_rules,
    dashboard_queries,
    recording_rules,
)
from tests.waiting import poll

JOBS = (
    "sbs-api",
    "sbs-worker",
    "temporal",
    "postgresql",
    "redis",
    "nats",
    "alertmanager",
    "prometheus",
)
SCRAPE_TIMEOUT = 30.0
QUERY_WINDOW = 60  # seconds of history each panel query looks at, like a short Grafana range


def query(prometheus: httpx.Client, path: str, **params: Any) -> Any:
    response = prometheus.get(path, params=params)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "success", body
    return body["data"]


def scrape_time(target: dict[str, Any]) -> datetime:
    # Prometheus reports nanoseconds; Python parses at most microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", target["lastScrape"]).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def wait_for_scrapes_after(prometheus: httpx.Client, moment: datetime) -> None:
    """Wait until every job was scraped (and stored) after `moment`, and was up."""

    def latest_targets() -> dict[str, dict[str, Any]]:
        targets = query(prometheus, "/api/v1/targets", state="active")["activeTargets"]
        return {target["labels"]["job"]: target for target in targets}

    def all_fresh(latest: dict[str, dict[str, Any]]) -> bool:
        return all(
            job in latest and latest[job]["health"] == "up" and scrape_time(latest[job]) > moment
            for job in JOBS
        )

    latest = poll(latest_targets, all_fresh, SCRAPE_TIMEOUT)
    if not all_fresh(latest):
        states = {job: (t["health"], t["lastScrape"], t["lastError"]) for job, t in latest.items()}
        pytest.fail(f"not every job was scraped after {moment.isoformat()}: {states}")


@pytest.fixture(scope="module")
def prometheus(stack: StackConfig) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.prometheus_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def traffic(stack: StackConfig, prometheus: httpx.Client) -> None:
    """Two rounds of requests, a scrape apart, so every counter has grown inside a rate window
    (series created by the first round would otherwise have a single sample)."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as api:
        for round_number in range(2):
            for path in ("/health", "/health/live", "/version", "/settings/core.version"):
                assert api.get(path).status_code == 200, path
            assert api.get("/no-such-page").status_code == 404
            refused = api.put("/settings/live.test", json={"value": 1})
            assert refused.status_code in (401, 403), refused.text
            started = api.post(
                "/test-workflow", params={"wait": "true"}, json={"name": f"live-{round_number}"}
            )
            assert started.status_code == 202, started.text
            assert started.json()["status"] == "COMPLETED", started.json()
            wait_for_scrapes_after(prometheus, datetime.now(UTC))


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    return any(
        math.isfinite(float(value)) for series in result for _, value in series.get("values", [])
    )


@pytest.mark.parametrize("panel_query", dashboard_queries(), ids=str)
def test_dashboard_query_returns_data(
    panel_query: DashboardQuery, prometheus: httpx.Client, traffic: None
) -> None:
    end = time.time()
    data = query(
        prometheus,
        "/api/v1/query_range",
        query=panel_query.promql,
        start=end - QUERY_WINDOW,
        end=end,
        step=2,
    )
    assert data["resultType"] == "matrix"
    if not panel_query.may_be_empty:
        assert has_finite_value(data["result"]), f"{panel_query}: no data for {panel_query.promql}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_expression_evaluates(
    rule: dict[str, Any], prometheus: httpx.Client, traffic: None
) -> None:
    data = query(prometheus, "/api/v1/query", query=rule["expr"])
    assert data["resultType"] == "vector"


def test_rules_are_loaded_healthy_and_availability_alerts_quiet(
    prometheus: httpx.Client, traffic: None
) -> None:
    expected = {rule["alert"] for rule in alert_rules()}

    def loaded_rules() -> dict[str, dict[str, Any]]:
        groups = query(prometheus, "/api/v1/rules", type="alert")["groups"]
        return {rule["name"]: rule for group in groups for rule in group["rules"]}

    def all_evaluated(loaded: dict[str, dict[str, Any]]) -> bool:
        return set(loaded) == expected and all(r["health"] != "unknown" for r in loaded.values())

    loaded = poll(loaded_rules, all_evaluated, SCRAPE_TIMEOUT, interval=0.5)
    assert set(loaded) == expected
    for name, rule in loaded.items():
        assert rule["health"] == "ok", (name, rule.get("lastError"))
    for name in (
        "SbsApiDown",
        "SbsWorkerDown",
        "SbsPostgresqlDown",
        "SbsRedisDown",
        "SbsNatsDown",
        "SbsTemporalDown",
        "SbsExporterDown",
    ):
        assert loaded[name]["state"] == "inactive", loaded[name]


@pytest.mark.parametrize("rule", recording_rules(), ids=lambda rule: rule["record"])
def test_recording_rule_is_loaded_and_healthy(
    rule: dict[str, Any], prometheus: httpx.Client, traffic: None
) -> None:
    groups = query(prometheus, "/api/v1/rules", type="record")["groups"]
    loaded = {r["name"]: r for group in groups for r in group["rules"]}
    assert rule["record"] in loaded
    assert loaded[rule["record"]]["health"] == "ok", loaded[rule["record"]]
    data = query(prometheus, "/api/v1/query", query=rule["record"])
    assert data["resultType"] == "vector"


def test_prometheus_sends_to_the_stacks_alertmanager(
    stack: StackConfig, prometheus: httpx.Client
) -> None:
    active = query(prometheus, "/api/v1/alertmanagers")["activeAlertmanagers"]
    assert [entry["url"] for entry in active] == [stack.url("alertmanager", "/api/v2/alerts")]


def test_worker_exports_the_metrics_the_dashboard_uses(stack: StackConfig, traffic: None) -> None:
    exposition = httpx.get(stack.worker_metrics_url, timeout=10).text
    exported = set(
        re.findall(r"^(temporal_[a-z_]+?)(?:_bucket|_sum|_count)?[{ ]", exposition, re.M)
    )
    used = {
        name.removesuffix("_bucket")
        for panel_query in dashboard_queries()
        for name in re.findall(r"\b(temporal_[a-z_]+)\{", panel_query.expr)
    }
    assert used, "the dashboard uses no worker metric"
    missing = {name for name in used if name not in exported and not name.endswith("_failed")}
    assert not missing, f"not exported by the worker: {missing}"
    # The worker's own gauge that SbsWorkerPollersNotSeen selects.
    assert re.search(r'^sbs_worker_pollers\{[^}]*task_type="activity"', exposition, re.M)
