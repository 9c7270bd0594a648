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
RULES_DIR = MONITORING / "prometheus" / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES = sorted((RULES_DIR / "tests").glob("*.test.yml"))
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
BLACKBOX_CONFIG = MONITORING / "blackbox" / "blackbox.yml"
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


def all_rules() -> list[dict[str, Any]]:
    """Every rule of every rule file Prometheus loads (rules/*.yml)."""
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "alert" in rule]


def recording_rules() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "record" in rule]
