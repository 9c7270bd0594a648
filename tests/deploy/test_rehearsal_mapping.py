"""docs/rehearsal.md maps the rehearsal's topology onto the chart's production values. Every
token its Helm column names is checked: a value (`path` or `path: value`) is set so in
values-production.example.yaml, a scheme (`tls://`) starts every address of the value named
before it, and a path (`/health/ready`) is the API pods' readiness probe. Planted differences
are each reported."""

import copy
import re
from typing import Any

import pytest
import yaml

from tests.deploy.helm_chart import CHART, component_workload, main_container, render
from tests.docs.readme_facts import DOCS

TOKEN = re.compile(r"`([^`]+)`")
VALUE = re.compile(r"^(?P<path>[a-zA-Z]\w*(?:\.\w+)+)(?:: (?P<value>.+))?$")
MISSING = object()


def helm_cells() -> list[str]:
    """The Helm column of the mapping table."""
    text = (DOCS / "rehearsal.md").read_text()
    rows = text.split("| Репетиция | Helm (продакшен-значения) | Bare metal |", 1)[1]
    cells = []
    for line in rows.strip().splitlines()[1:]:
        if not line.startswith("|"):
            break
        cells.append(line.split(" | ")[1])
    return cells


def production_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values-production.example.yaml").read_text())
    return values


def readiness_path(values: dict[str, Any]) -> str:
    api = main_container(component_workload(render(values), "api"))
    path: str = api["readinessProbe"]["httpGet"]["path"]
    return path


def lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def mapping_problems(cells: list[str], values: dict[str, Any], readiness: str) -> list[str]:
    problems = []
    for cell in cells:
        named: Any = MISSING  # the value the cell named last
        for token in TOKEN.findall(cell):
            if token.startswith("/"):
                if token != readiness:
                    problems.append(f"{token}: the API's readiness probe is {readiness}")
            elif token.endswith("://"):
                addresses = str(named).split(",") if named is not MISSING else []
                if not addresses or any(not a.startswith(token) for a in addresses):
                    problems.append(f"{token}: not every address of the value before it")
            elif match := VALUE.match(token):
                named = lookup(values, match["path"])
                if named is MISSING:
                    problems.append(f"{match['path']}: not in the production values")
                elif match["value"] is not None and named != yaml.safe_load(match["value"]):
                    problems.append(f"{token}: the production values say {named!r}")
            else:
                problems.append(f"{token}: neither a value, a scheme nor a path")
    return problems


def test_the_helm_column_holds_for_the_production_values() -> None:
    cells = helm_cells()
    values = production_values()
    assert len(cells) == 7
    assert sum(len(TOKEN.findall(cell)) for cell in cells) >= 15
    assert mapping_problems(cells, values, readiness_path(values)) == []


def plant(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    planted = copy.deepcopy(values)
    *parents, last = path.split(".")
    node = planted
    for part in parents:
        node = node[part]
    if value is MISSING:
        del node[last]
    else:
        node[last] = value
    return planted


@pytest.mark.parametrize(
    ("path", "value", "reported"),
    [
        ("podDisruptionBudget.minAvailable", 2, "podDisruptionBudget.minAvailable: 1"),
        ("worker.replicaCount", 1, "worker.replicaCount: 2"),
        ("autoscaling.minReplicas", 1, "autoscaling.minReplicas: 2"),
        ("externalDatabase.targetSessionAttrs", "any", "externalDatabase.targetSessionAttrs"),
        ("externalRedis.sentinel", MISSING, "externalRedis.sentinel.hosts"),
        ("externalNats.url", "tls://a:4222,nats://b:4222", "tls://"),
        ("externalTemporal.tls.enabled", False, "externalTemporal.tls.enabled: true"),
        ("api.topologySpreadConstraints", MISSING, "api.topologySpreadConstraints"),
    ],
)
def test_a_planted_difference_is_reported(path: str, value: Any, reported: str) -> None:
    values = plant(production_values(), path, value)
    problems = mapping_problems(helm_cells(), values, "/health/ready")
    assert any(problem.startswith(reported) for problem in problems), problems


def test_another_readiness_path_is_reported() -> None:
    problems = mapping_problems(helm_cells(), production_values(), "/health")
    assert problems == ["/health/ready: the API's readiness probe is /health"]
