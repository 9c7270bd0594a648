"""Helpers shared by the monitoring tests: file locations, dashboard queries, alert rules."""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
ALERT_RULES = MONITORING / "prometheus" / "rules" / "sbs-alerts.yml"
ALERT_RULE_TESTS = MONITORING / "prometheus" / "rules" / "tests" / "sbs-alerts.test.yml"
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = MONITORING / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "sbs-infrastructure.json"

# What Grafana puts in place of its interval variables when the tests run a query themselves.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}

# Error and failure series exist only after something went wrong; such queries may be empty.
MAY_BE_EMPTY = re.compile(r'5\.\."|_failed\b')


@dataclass(frozen=True)
class DashboardQuery:
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str

    @property
    def promql(self) -> str:
        """The expression with Grafana's variables replaced, ready for Prometheus."""
        expr = self.expr
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        return expr

    @property
    def may_be_empty(self) -> bool:
        return bool(MAY_BE_EMPTY.search(self.expr))

    def __str__(self) -> str:
        return f"panel {self.panel_id} '{self.panel_title}' {self.ref_id}"


def load_dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def dashboard_queries() -> list[DashboardQuery]:
    return [
        DashboardQuery(panel["id"], panel["title"], target["refId"], target["expr"])
        for panel in load_dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERT_RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]
