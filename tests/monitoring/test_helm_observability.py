"""Proves the chart's alerting parts agree with monitoring/: the PrometheusRule (when enabled)
holds exactly the groups of monitoring/prometheus/rules, its files are identical copies, the
AlertmanagerConfig routes, groups and inhibits like monitoring/alertmanager/alertmanager.yml,
a receiver from values reaches it, the chart lints strictly with both on, and neither is
rendered by default (they need the Prometheus Operator's CRDs); tracing variables reach the app
only when values give an OTLP endpoint, and the schema refuses bad tracing values."""

from pathlib import Path

import pytest
import yaml
from helm_python import chart as helm
from helm_python.errors import HelmValuesError

from tests.deploy.helm_chart import CHART, NAMESPACE, RELEASE, Doc, render
from tests.monitoring.monitoring_files import ALERTMANAGER_CONFIG, RULE_FILES

CHART_RULES = CHART / "files" / "prometheus-rules"
ENABLED = {
    "metrics": {"prometheusRule": {"enabled": True}, "alertmanagerConfig": {"enabled": True}}
}


def only(docs: list[Doc], kind: str) -> Doc:
    (doc,) = [doc for doc in docs if doc["kind"] == kind]
    return doc


@pytest.fixture(scope="module")
def enabled_docs() -> list[Doc]:
    return render(ENABLED)


def test_nothing_needs_the_operator_by_default() -> None:
    kinds = {doc["kind"] for doc in render({})}
    assert not kinds & {"PrometheusRule", "AlertmanagerConfig"}


def test_chart_rule_files_are_copies_of_the_monitoring_rules() -> None:
    copies = sorted(CHART_RULES.glob("*.yml"))
    assert [path.name for path in copies] == [path.name for path in RULE_FILES]
    for source, copy in zip(RULE_FILES, copies, strict=True):
        assert copy.read_text() == source.read_text(), f"{copy} differs from {source}"


def test_prometheus_rule_holds_every_group(enabled_docs: list[Doc]) -> None:
    rule = only(enabled_docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    expected = [
        group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
    ]
    assert rule["spec"]["groups"] == expected  # annotations keep their {{ $labels }} templates


def test_alertmanager_config_matches_the_compose_config(enabled_docs: list[Doc]) -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    spec = only(enabled_docs, "AlertmanagerConfig")["spec"]
    route = config["route"]
    assert spec["route"]["receiver"] == route["receiver"]
    assert spec["route"]["groupBy"] == route["group_by"]
    assert spec["route"]["groupWait"] == route["group_wait"]
    assert spec["route"]["repeatInterval"] == route["repeat_interval"]

    def matchers(rule_matchers: list[Doc]) -> set[str]:
        return {f'{m["name"]}{m["matchType"]}"{m["value"]}"' for m in rule_matchers}

    inhibitions = {
        (frozenset(matchers(rule["sourceMatch"])), frozenset(matchers(rule["targetMatch"])))
        for rule in spec["inhibitRules"]
    }
    expected = {
        (frozenset(rule["source_matchers"]), frozenset(rule["target_matchers"]))
        for rule in config["inhibit_rules"]
    }
    assert inhibitions == expected
    assert spec["receivers"] == [{"name": "default"}]


def test_a_receiver_from_values_is_used() -> None:
    slack = {
        "slackConfigs": [
            {"apiURL": {"name": "slack", "key": "url"}, "channel": "#sbs", "sendResolved": True}
        ]
    }
    values = {"metrics": {"alertmanagerConfig": {"enabled": True, "receiver": slack}}}
    spec = only(render(values), "AlertmanagerConfig")["spec"]
    assert spec["receivers"] == [{"name": "default", **slack}]


def test_chart_lints_strictly_with_alerting_enabled(tmp_path: Path) -> None:
    report = helm.lint(CHART, ENABLED, strict=True, with_subcharts=True, namespace=NAMESPACE)
    problems = [*report["errors"], *(m["error"] for m in report["messages"] if m["severity"] == 2)]
    assert problems == []


def app_configuration(docs: list[Doc]) -> dict[str, str]:
    (config_map,) = [
        doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == RELEASE
    ]
    data: dict[str, str] = config_map["data"]
    return data


def test_tracing_is_off_unless_an_endpoint_is_given() -> None:
    default = app_configuration(render({}))
    assert not any(name.startswith("OTEL_EXPORTER") for name in default)
    endpoint = "http://jaeger-collector.observability:4318"
    traced = app_configuration(render({"tracing": {"otlpEndpoint": endpoint, "samplerArg": "0.5"}}))
    assert traced["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    assert traced["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert traced["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert traced["OTEL_TRACES_SAMPLER_ARG"] == "0.5"
    assert default.items() <= traced.items()


@pytest.mark.parametrize(
    "tracing",
    [{"otlpEndpoint": "jaeger:4318"}, {"sampler": "sometimes"}, {"samplerArg": "50%"}],
)
def test_schema_rejects_bad_tracing_values(tracing: dict[str, str]) -> None:
    with pytest.raises(HelmValuesError):
        render({"tracing": tracing})
