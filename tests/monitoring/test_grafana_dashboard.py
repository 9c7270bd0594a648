"""Proves the Grafana files: the dashboard JSON is well formed (uid, title, unique panel ids,
layout inside the grid, every target has an expression), every panel and target uses the
provisioned datasource uid, every query is valid PromQL (promtool), rate windows use
$__rate_interval, the provisioning points where compose mounts the dashboards, and every API
metric the dashboard and alerts name is really exported by app.telemetry."""

import re
import subprocess
from pathlib import Path

import httpx
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.dependency_metrics import record_health_report
from app.health import HealthReport
from app.telemetry import configure_telemetry
from tests.monitoring.monitoring_files import (
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    alert_rules,
    dashboard_queries,
    load_dashboard,
)

GRID_COLUMNS = 24
REQUIRED_PANELS = {
    "requests per second": r"rate\(http_server_requests_total",
    "latency quantiles": r"histogram_quantile\(0\.99, .*http_server_request_duration_seconds",
    "5xx": r'http_response_status_code=~"5\.\."',
    "in-flight": r"http_server_active_requests",
    "cpu": r"process_cpu_seconds_total",
    "memory": r"process_resident_memory_bytes",
    "workflows completed": r"temporal_workflow_completed",
    "workflows failed": r"temporal_workflow_failed",
    "workflows started": r'operation="StartWorkflowExecution"',
    "activity latency": r"temporal_activity_execution_latency_bucket",
    "schedule-to-start": r"schedule_to_start_latency_bucket",
    "postgresql up": r'pg_up\{job="postgresql"\}',
    "redis up": r'redis_up\{job="redis"\}',
    "nats up": r'probe_success\{job="nats"\}',
    "temporal up": r'up\{job="temporal"\}',
    "api's view of dependencies": r"sbs_dependency_up",
    "dependency check latency": r"sbs_dependency_check_duration_seconds",
    "postgresql connections": r"pg_stat_activity_count",
    "redis memory": r"redis_memory_used_bytes",
    "workers polling": r"temporal_num_pollers",
}
METRIC_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")


def provisioned_datasource() -> dict[str, str]:
    (datasource,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    return {"type": datasource["type"], "uid": datasource["uid"]}


def test_datasource_provisioning_matches_the_contract() -> None:
    (datasource,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert datasource["uid"] == "prometheus"
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["access"] == "proxy"


def test_dashboard_provider_reads_the_mounted_directory() -> None:
    (provider,) = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_identity() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "sbs-infrastructure"
    assert dashboard["title"] == "SBS Infrastructure"
    assert 38 <= dashboard["schemaVersion"] <= 39  # Grafana 10.x
    assert "id" not in dashboard or dashboard["id"] is None  # provisioning assigns it


def test_panel_ids_are_unique_and_layout_fits_the_grid() -> None:
    panels = load_dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["title"]
        cells = {
            (column, row)
            for column in range(grid["x"], grid["x"] + grid["w"])
            for row in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"panel '{panel['title']}' overlaps another"
        occupied |= cells


def test_every_panel_and_target_uses_the_provisioned_datasource() -> None:
    expected = provisioned_datasource()
    for panel in load_dashboard()["panels"]:
        assert panel["datasource"] == expected, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == expected, (panel["title"], target["refId"])


def test_every_graph_panel_has_targets_with_an_expression() -> None:
    for panel in load_dashboard()["panels"]:
        if panel["type"] == "row":
            continue
        targets = panel["targets"]
        assert targets, panel["title"]
        ref_ids = [target["refId"] for target in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), (panel["title"], target["refId"])


def test_dashboard_covers_the_required_views() -> None:
    exprs = [query.expr for query in dashboard_queries()]
    for view, pattern in REQUIRED_PANELS.items():
        assert any(re.search(pattern, expr) for expr in exprs), f"no panel shows {view}"


def test_rate_windows_use_rate_interval() -> None:
    for query in dashboard_queries():
        windows = re.findall(r"\[([^\]]+)\]", query.expr)
        assert all(window == "$__rate_interval" for window in windows), (str(query), windows)


def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    # promtool has no offline "check this expression"; recording rules give it one.
    queries = dashboard_queries()
    rules = [
        {"record": f"dashboard:panel_{query.panel_id}_{query.ref_id}", "expr": query.promql}
        for query in queries
    ]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries)} rules found" in result.stdout


WORKER_SERIES = {"sbs_worker_pollers"}


async def test_api_metric_names_exist_in_the_app_export() -> None:
    """Every http_*/process_*/sbs_* series the dashboard and the alerts select is really
    exported (the sbs_dependency_* ones once the health checker has reported)."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    configure_telemetry(app)
    record_health_report(HealthReport(True, {"redis": {"status": "up", "latency_ms": 1.5}}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/ping")).status_code == 200
        exposition = (await client.get("/metrics")).text
    exported = {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }

    expressions = [query.expr for query in dashboard_queries()]
    expressions += [rule["expr"] for rule in alert_rules()]
    referenced = {
        name
        for expr in expressions
        for name in METRIC_SELECTOR.findall(expr)
        if name.startswith(("http_", "process_", "sbs_"))
    }
    assert len(referenced) >= 8, referenced
    # The worker exports these itself (test_live_queries checks them on the live worker).
    assert referenced - WORKER_SERIES <= exported, referenced - WORKER_SERIES - exported
