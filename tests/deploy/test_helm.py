"""Proves the Helm chart deploy/helm/sbs is a sound Kubernetes reference deployment.

With the real Helm SDK (helm_python) it lints the chart and its four subcharts strictly and
renders them for the default and the production example values; the rendered manifests must
pass kubernetes-validate (strict) and checkov, carry probes, resources, a non-root hardened
security context and pinned images, and set every variable app.config.Settings reads on the
API and the worker. It also proves values.schema.json makes Helm refuse bad values.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_python import chart as helm
from helm_python.errors import HelmValuesError

import app
from app.config import Settings
from tests.deploy.artifact_checks import (
    BAD_CONNECTION_VALUES,
    SECRET_VARIABLES,
    TLS_FILE_VARIABLES,
)
from tests.deploy.helm_chart import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    Doc,
    all_containers,
    app_containers,
    component_workload,
    is_workload,
    main_container,
    named,
    of_kind,
    pod_annotations,
    pod_spec,
    render,
    schema_error,
    worker_versions,
)
from tests.tools import unmeasured_environment

SUBCHARTS = ("postgresql", "temporal", "redis", "nats")
CRD_GROUPS = ("monitoring.coreos.com/",)
CHECKOV = Path(sys.executable).with_name("checkov")

PRODUCTION = yaml.safe_load((CHART / "values-production.example.yaml").read_text())
VALUE_SETS: dict[str, dict[str, Any]] = {"default": {}, "production": PRODUCTION}

# ---- helpers ---------------------------------------------------------------------------


def resolved_env(container: Doc, docs: list[Doc]) -> dict[str, Doc]:
    """Every variable a container gets: ConfigMap envFrom entries, then its own env list."""
    env: dict[str, Doc] = {}
    for source in container.get("envFrom", []):
        config_map = named(docs, "ConfigMap", source["configMapRef"]["name"])
        env.update({key: {"value": value} for key, value in config_map["data"].items()})
    env.update({item["name"]: item for item in container.get("env", [])})
    return env


def lint_problems(report: dict[str, Any]) -> list[str]:
    """Errors and warnings of a lint report (strict mode fails on warnings too)."""
    warnings = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] == 2]
    return [*report["errors"], *warnings]


def expected_variables() -> set[str]:
    """Env names app.config.Settings reads: field name (or alias) upper-cased."""
    return {(field.alias or name).upper() for name, field in Settings.model_fields.items()}


# Read by the app once the runtime issue 10 lands (its contract: SBS_ENVIRONMENT's production
# guard, SHUTDOWN_DRAIN_SECONDS, MAX_REQUEST_BODY_BYTES); known here so both orders of merge pass.
# A token and a password the production guard accepts.
GOOD_TOKEN = "t" * 40
GOOD_PASSWORD = "a-real-password-for-tests"


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, render(VALUE_SETS[request.param])


@pytest.fixture(scope="module")
def default_docs() -> list[Doc]:
    return render({})


@pytest.fixture(scope="module")
def production_docs() -> list[Doc]:
    return render(PRODUCTION)


@pytest.fixture(scope="module", params=sorted(VALUE_SETS))
def checkov_report(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[Doc]]:
    """Run checkov once per value set on the rendered manifests, one file per object."""
    directory = tmp_path_factory.mktemp(f"checkov-{request.param}")
    for index, doc in enumerate(render(VALUE_SETS[request.param])):
        name = f"{index:02d}-{doc['kind']}-{doc['metadata']['name']}.yaml"
        (directory / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    command = [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes"]
    command += ["--quiet", "--compact", "-o", "json"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=unmeasured_environment(),
    )
    assert result.stdout.strip(), f"checkov printed nothing: {result.stderr[-2000:]}"
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert [report["check_type"] for report in reports] == ["kubernetes"]
    assert reports[0]["summary"]["resource_count"] > 0
    return request.param, reports[0]["results"].get("failed_checks", [])


# ---- chart metadata and lint ---------------------------------------------------------------


def test_chart_declares_the_local_subcharts_with_conditions() -> None:
    metadata = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert metadata["apiVersion"] == "v2"
    assert metadata["version"] == "1.1.0"
    assert metadata["appVersion"] == app.__version__
    declared = {dep["name"]: dep for dep in metadata["dependencies"]}
    assert set(declared) == set(SUBCHARTS)
    for name, dep in declared.items():
        assert dep["repository"] == f"file://charts/{name}"
        assert dep["condition"] == f"{name}.enabled"
    statuses = {dep["name"]: dep["status"] for dep in helm.dependency_list(CHART)}
    assert statuses == dict.fromkeys(SUBCHARTS, "unpacked"), statuses


def test_subcharts_load_without_dependency_build() -> None:
    with helm.Chart.load(CHART) as chart:
        assert {dep["name"] for dep in chart.dependencies} == set(SUBCHARTS)


def test_dependency_build_archives_are_ignored(tmp_path: Path) -> None:
    # scripts/deploy_test.sh runs `helm dependency build`, which packs each file:// subchart
    # into charts/*.tgz next to the unpacked directory; .helmignore keeps them out.
    copy = tmp_path / "sbs"
    shutil.copytree(CHART, copy)
    for name in SUBCHARTS:
        with helm.Chart.load(copy / "charts" / name) as subchart:
            subchart.save(copy / "charts")
    assert len(list((copy / "charts").glob("*.tgz"))) == len(SUBCHARTS)
    with helm.Chart.load(copy) as chart:
        assert sorted(dep["name"] for dep in chart.dependencies) == sorted(SUBCHARTS)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_chart_lints_strictly(value_set: str) -> None:
    report = helm.lint(
        CHART,
        VALUE_SETS[value_set],
        strict=True,
        with_subcharts=True,
        namespace=NAMESPACE,
        kube_version=f"v{KUBE_VERSION}",
    )
    assert lint_problems(report) == []


@pytest.mark.parametrize("subchart", SUBCHARTS)
def test_subchart_lints_strictly(subchart: str) -> None:
    report = helm.lint(CHART / "charts" / subchart, {}, strict=True, namespace=NAMESPACE)
    assert lint_problems(report) == []


# ---- rendered manifests ----------------------------------------------------------------------


def test_manifests_pass_kubernetes_schema(rendered: tuple[str, list[Doc]]) -> None:
    value_set, docs = rendered
    errors = [
        refused
        for doc in docs
        if not doc["apiVersion"].startswith(CRD_GROUPS) and (refused := schema_error(doc))
    ]
    assert errors == [], f"{value_set}: {errors}"
    assert all(doc["metadata"].get("namespace") == NAMESPACE for doc in docs)


def test_workloads_are_hardened(rendered: tuple[str, list[Doc]]) -> None:
    value_set, docs = rendered
    workloads = [doc for doc in docs if is_workload(doc)]
    assert workloads, value_set
    for workload in workloads:
        where = f"{value_set} {workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, where
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        for container in all_containers(workload):
            at = f"{where} container {container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, at
            assert security.get("runAsUser", pod_security.get("runAsUser", 0)) > 0, at
            assert security["allowPrivilegeEscalation"] is False, at
            assert security["readOnlyRootFilesystem"] is True, at
            assert security["capabilities"]["drop"] == ["ALL"], at
            assert security["seccompProfile"]["type"] == "RuntimeDefault", at
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), at
        if workload["kind"] not in ("Job", "Pod"):
            for container in spec["containers"]:
                for probe in ("livenessProbe", "readinessProbe"):
                    assert probe in container, f"{where} {container['name']} lacks {probe}"


def test_images_are_pinned(rendered: tuple[str, list[Doc]]) -> None:
    value_set, docs = rendered
    for workload in (doc for doc in docs if is_workload(doc)):
        for container in all_containers(workload):
            image = container["image"]
            digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
            tag = re.fullmatch(r"[^@]+/?[^/@]*:([A-Za-z0-9_][A-Za-z0-9_.-]*)", image)
            assert digest or tag, f"{value_set}: unpinned image {image}"
            assert not (tag and tag.group(1) == "latest"), f"{value_set}: {image}"


def test_every_setting_is_set_on_api_and_worker(rendered: tuple[str, list[Doc]]) -> None:
    value_set, docs = rendered
    # DATABASE_URL may be omitted: the DATABASE_* parts are set instead.
    required = expected_variables() - {"DATABASE_URL"}
    assert {"SBS_API_TOKEN", "WORKER_HEALTH_PORT"} <= required
    for component, container in app_containers(docs).items():
        env = resolved_env(container, docs)
        worker_only = {"TEMPORAL_WORKER_BUILD_ID"} if component == "api" else set()
        # Passwords a dependency may not have: set from its Secret only when it has one.
        optional = {"REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"}
        missing = sorted(required - worker_only - optional - set(env))
        assert missing == [], f"{value_set} {component} lacks {missing}"
        for secret_variable in ("DATABASE_PASSWORD", "SBS_API_TOKEN"):
            assert "secretKeyRef" in env[secret_variable]["valueFrom"], secret_variable
        assert env["OTEL_SERVICE_NAME"]["value"] == f"sbs-{component}"
        # The values parse: the app would start with this configuration.
        # TLS files exist only inside the pod (mounted Secrets): the app reads them at start.
        plain = {
            name: item["value"]
            for name, item in env.items()
            if "value" in item and name not in TLS_FILE_VARIABLES
        }
        plain |= {"DATABASE_PASSWORD": GOOD_PASSWORD, "SBS_API_TOKEN": GOOD_TOKEN}
        plain |= {"REDIS_URL": "redis://r:6379/0"}
        for secret_variable in sorted(SECRET_VARIABLES & set(env)):
            assert "secretKeyRef" in env[secret_variable].get("valueFrom", {}), secret_variable
        unknown = sorted(set(env) - expected_variables())
        assert unknown == [], f"{value_set} {component} sets variables the app does not read"
        assert env["SBS_ENVIRONMENT"]["value"] == "production"
        settings = Settings.model_validate({k.lower(): v for k, v in plain.items()})
        assert (settings.worker_health_port, settings.api_port) == (8081, 8000)
        assert settings.is_production


def test_default_values_point_at_the_bundled_services(default_docs: list[Doc]) -> None:
    services = {doc["metadata"]["name"]: doc for doc in of_kind(default_docs, "Service")}
    secrets = {doc["metadata"]["name"]: doc for doc in of_kind(default_docs, "Secret")}
    env = resolved_env(app_containers(default_docs)["api"], default_docs)
    nats_address = re.fullmatch(r"nats://([^:]+):(\d+)", env["NATS_URL"]["value"])
    redis_address = re.search(r"@([^:]+):6379/", env["REDIS_URL"]["value"])
    assert nats_address is not None, env["NATS_URL"]
    assert redis_address is not None, env["REDIS_URL"]
    nats_host, nats_port = nats_address.groups()
    redis_host = redis_address.group(1)
    targets = [
        (env["DATABASE_HOST"]["value"], int(env["DATABASE_PORT"]["value"])),
        (env["TEMPORAL_HOST"]["value"], int(env["TEMPORAL_PORT"]["value"])),
        (nats_host, int(nats_port)),
        (redis_host, 6379),
    ]
    for host, port in targets:
        assert port in [p["port"] for p in services[host]["spec"]["ports"]], (host, port)
    for item in env.values():
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secrets[ref["name"]]["data"], ref
    # REDIS_PASSWORD must precede REDIS_URL for Kubernetes to expand $(REDIS_PASSWORD).
    names = [item["name"] for item in app_containers(default_docs)["api"]["env"]]
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")


def test_production_example_uses_managed_services(production_docs: list[Doc]) -> None:
    # No bundled server: the only Job left is the platform's own worker rollout step.
    kinds = {
        doc["kind"]
        for doc in production_docs
        if doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "worker-rollout"
    }
    assert not kinds & {"StatefulSet", "Job", "Secret"}, kinds
    env = resolved_env(app_containers(production_docs)["worker"], production_docs)
    assert env["DATABASE_HOST"]["value"] == PRODUCTION["externalDatabase"]["host"]
    assert env["TEMPORAL_HOST"]["value"] == PRODUCTION["externalTemporal"]["host"]
    assert env["TEMPORAL_NAMESPACE"]["value"] == PRODUCTION["externalTemporal"]["namespace"]
    assert env["NATS_URL"]["value"] == PRODUCTION["externalNats"]["url"]
    redis_ref = env["REDIS_URL"]["valueFrom"]["secretKeyRef"]
    assert redis_ref["name"] == PRODUCTION["externalRedis"]["existingSecret"]
    ingress = named(production_docs, "Ingress", f"{RELEASE}-api")
    assert ingress["spec"]["tls"][0]["hosts"] == ["sbs.example.com"]
    hpa = named(production_docs, "HorizontalPodAutoscaler", f"{RELEASE}-api")
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in named(production_docs, "Deployment", f"{RELEASE}-api")["spec"]
    assert len(of_kind(production_docs, "PodDisruptionBudget")) == 2
    assert len(of_kind(production_docs, "NetworkPolicy")) == 2


def test_production_example_carries_failover_and_tls(production_docs: list[Doc]) -> None:
    """Host lists, Sentinels, and each dependency's TLS files from a Secret mounted read-only."""
    for component, container in app_containers(production_docs).items():
        env = {
            name: str(item.get("value"))
            for name, item in resolved_env(container, production_docs).items()
        }
        assert "," in env["DATABASE_HOST"], env["DATABASE_HOST"]
        assert env["DATABASE_TARGET_SESSION_ATTRS"] == "read-write"
        assert env["DATABASE_SSLMODE"] == "verify-full"
        assert len(env["REDIS_SENTINELS"].split(",")) == 3
        assert [url.split("://")[0] for url in env["NATS_URL"].split(",")] == ["tls"] * 3
        assert env["TEMPORAL_TLS"] == "true"
        assert (
            env["TEMPORAL_TLS_SERVER_NAME"] == PRODUCTION["externalTemporal"]["tls"]["serverName"]
        )
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        volumes = {
            v["name"]: v
            for v in pod_spec(component_workload(production_docs, component))["volumes"]
        }
        for dependency, variable in (
            ("postgresql", "DATABASE_SSLROOTCERT"),
            ("redis", "REDIS_TLS_CA_FILE"),
            ("nats", "NATS_TLS_CA_FILE"),
            ("temporal", "TEMPORAL_TLS_CA_FILE"),
            ("temporal", "TEMPORAL_TLS_CERT_FILE"),
            ("temporal", "TEMPORAL_TLS_KEY_FILE"),
        ):
            directory = f"/etc/sbs/tls/{dependency}"
            assert env[variable].startswith(directory + "/"), (component, variable)
            assert mounts[directory]["readOnly"] is True
            secret = volumes[mounts[directory]["name"]]["secret"]
            assert secret["defaultMode"] == 0o440
            assert env[variable].rsplit("/", 1)[1] in {item["path"] for item in secret["items"]}
        for variable in ("REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"):
            ref = resolved_env(container, production_docs)[variable]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == PRODUCTION["externalRedis"]["existingSecret"]


def test_default_values_mount_no_tls_and_stay_plain(default_docs: list[Doc]) -> None:
    for container in app_containers(default_docs).values():
        env = {
            name: item.get("value") for name, item in resolved_env(container, default_docs).items()
        }
        assert env["TEMPORAL_TLS"] == "false"
        assert all(env[variable] == "" for variable in TLS_FILE_VARIABLES), env
        assert [m["mountPath"] for m in container["volumeMounts"]] == ["/tmp"]


def test_probes_and_ports_follow_the_contract(default_docs: list[Doc]) -> None:
    containers = app_containers(default_docs)
    api = containers["api"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    startup = api["startupProbe"]
    assert startup["httpGet"]["path"] == "/health/live"
    # Long enough for the database wait and the Alembic migrations.
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 120
    assert api["command"] == ["scripts/start_api.sh"]
    worker = containers["worker"]
    assert worker["command"] == ["scripts/start_worker.sh"]
    ports = {port["name"]: port["containerPort"] for port in worker["ports"]}
    assert ports == {"metrics": 9464, "health": 8081}
    for probe in ("startupProbe", "livenessProbe"):
        assert worker[probe]["httpGet"] == {"path": "/health/live", "port": "health"}
    # Ready only while Temporal sees the worker's pollers (app/temporal/readiness.py).
    assert worker["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "health"}
    service = named(default_docs, "Service", f"{RELEASE}-worker")
    assert sorted(port["port"] for port in service["spec"]["ports"]) == [8081, 9464]
    api_service = named(default_docs, "Service", f"{RELEASE}-api")
    assert [port["port"] for port in api_service["spec"]["ports"]] == [8000]
    annotations = pod_annotations(named(default_docs, "Deployment", f"{RELEASE}-api"))
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    account = named(default_docs, "ServiceAccount", RELEASE)
    assert account["automountServiceAccountToken"] is False


def test_pods_roll_when_settings_change() -> None:
    def checksums(values: dict[str, Any]) -> list[str]:
        docs = render(values)
        return [
            pod_annotations(component_workload(docs, component))["checksum/config"]
            for component in ("api", "worker")
        ]

    info = checksums({"config": {"logLevel": "INFO"}})
    assert info == checksums({"config": {"logLevel": "INFO"}})
    debug = checksums({"config": {"logLevel": "DEBUG"}})
    assert all(a != b for a, b in zip(info, debug, strict=True))


@pytest.mark.parametrize(
    ("image", "expected_image", "expected_build"),
    [
        ({}, f"ghcr.io/sbs-platform/sbs:{app.__version__}", app.__version__),
        ({"repository": "ghcr.io/o/r", "tag": "abc123"}, "ghcr.io/o/r:abc123", "abc123"),
        ({"tag": 20261127}, "ghcr.io/sbs-platform/sbs:20261127", "20261127"),
        (
            {"tag": "abc123", "digest": "sha256:" + "a" * 64},
            "ghcr.io/sbs-platform/sbs@sha256:" + "a" * 64,
            "sha256:" + "a" * 64,
        ),
    ],
)
def test_image_reference(image: dict[str, Any], expected_image: str, expected_build: str) -> None:
    docs = render({"image": image})
    for container in app_containers(docs).values():
        assert container["image"] == expected_image
    assert named(docs, "ConfigMap", RELEASE)["data"]["APP_BUILD"] == expected_build


def test_service_monitors_when_enabled(default_docs: list[Doc]) -> None:
    assert of_kind(default_docs, "ServiceMonitor") == []
    docs = render({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"a": "b"}}}})
    monitors = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "ServiceMonitor")}
    assert set(monitors) == {f"{RELEASE}-api", f"{RELEASE}-worker"}
    for component, job in (("api", "sbs-api"), ("worker", "sbs-worker")):
        monitor = monitors[f"{RELEASE}-{component}"]
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["a"] == "b"
        service = named(docs, "Service", f"{RELEASE}-{component}")
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in [port["name"] for port in service["spec"]["ports"]]
        assert endpoint["path"] == "/metrics"
        assert {"action": "replace", "targetLabel": "job", "replacement": job} in endpoint[
            "relabelings"
        ]


def test_first_install_converges_without_hooks(default_docs: list[Doc]) -> None:
    # Hooks would run before (pre-install) or after (post-install, blocking --wait) the
    # PostgreSQL and Temporal the Jobs depend on; plain Jobs that wait cannot deadlock.
    # `helm test` hooks run only when someone calls `helm test`.
    for doc in default_docs:
        hook = doc["metadata"].get("annotations", {}).get("helm.sh/hook")
        assert hook in (None, "test"), doc["metadata"]
    jobs = {doc["metadata"]["name"].rsplit("-", 1)[0]: doc for doc in of_kind(default_docs, "Job")}
    assert set(jobs) == {
        f"{RELEASE}-temporal-schema",
        f"{RELEASE}-temporal-namespace",
        f"{RELEASE}-worker-rollout",
    }
    schema_script = main_container(jobs[f"{RELEASE}-temporal-schema"])["command"][-1]
    for step in ("nc -z", "temporal-sql-tool", "setup-schema -v 0.0", "update-schema -d"):
        assert step in schema_script
    for schema_dir in ("v12/temporal/versioned", "v12/visibility/versioned"):
        assert schema_dir in schema_script
    namespace_script = main_container(jobs[f"{RELEASE}-temporal-namespace"])["command"][-1]
    assert "temporal operator cluster health" in namespace_script
    assert "temporal operator namespace create" in namespace_script
    server = named(default_docs, "Deployment", f"{RELEASE}-temporal")
    (wait,) = pod_spec(server)["initContainers"]
    assert "schema_version" in wait["command"][-1]
    server_env = {item["name"]: item for item in main_container(server)["env"]}
    assert server_env["PROMETHEUS_ENDPOINT"]["value"] == "0.0.0.0:9091"
    assert server_env["DB"]["value"] == "postgres12"


def test_stateful_subcharts_keep_data_on_volumes(default_docs: list[Doc]) -> None:
    postgres = named(default_docs, "StatefulSet", f"{RELEASE}-postgresql")
    headless = named(default_docs, "Service", postgres["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    container = main_container(postgres)
    assert re.fullmatch(r"postgres:18\.\d+", container["image"])
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts["data"] == "/var/lib/postgresql"
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PGDATA"].startswith("/var/lib/postgresql/")
    assert "pg_isready" in container["readinessProbe"]["exec"]["command"][-1]
    assert pod_spec(postgres)["securityContext"]["runAsUser"] == 999
    for name in ("postgresql", "redis", "nats"):
        statefulset = named(default_docs, "StatefulSet", f"{RELEASE}-{name}")
        claims = [
            claim["metadata"]["name"] for claim in statefulset["spec"]["volumeClaimTemplates"]
        ]
        assert claims == ["data"], name
    redis = pod_spec(named(default_docs, "StatefulSet", f"{RELEASE}-redis"))
    assert re.fullmatch(r"redis:7\.\d+\.\d+", redis["containers"][0]["image"])
    assert redis["securityContext"]["runAsUser"] == 999
    nats = main_container(named(default_docs, "StatefulSet", f"{RELEASE}-nats"))
    assert re.fullmatch(r"nats:2\.10\.\d+(-alpine)?", nats["image"])
    assert nats["livenessProbe"]["httpGet"]["path"].startswith("/healthz")
    assert {port["containerPort"] for port in nats["ports"]} == {4222, 8222}
    nats_config = named(default_docs, "ConfigMap", f"{RELEASE}-nats")["data"]["nats.conf"]
    assert "store_dir: /data/jetstream" in nats_config


# ---- checkov -------------------------------------------------------------------------------


def test_checkov_finds_nothing(checkov_report: tuple[str, list[Doc]]) -> None:
    value_set, failed = checkov_report
    summary = [(check["check_id"], check["resource"]) for check in failed]
    assert summary == [], f"{value_set}: {summary}"


def test_checkov_skips_give_reasons(rendered: tuple[str, list[Doc]]) -> None:
    value_set, docs = rendered
    skips = [
        (key, value)
        for doc in docs
        for key, value in doc["metadata"].get("annotations", {}).items()
        if key.startswith("checkov.io/skip")
    ]
    assert skips, value_set
    for key, value in skips:
        assert re.fullmatch(r"CKV2?_K8S_\d+=\S.{15,}", value), (key, value)


# ---- values.schema.json --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values", "complaint"),
    BAD_CONNECTION_VALUES,
    ids=[b[0] for b in BAD_CONNECTION_VALUES],
)
def test_schema_rejects_bad_connection_values(
    name: str, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(HelmValuesError, match=re.escape(complaint)):
        render(values)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"imagee": {"tag": "1.0.0"}}, "additional properties 'imagee' not allowed"),
        ({"api": {"replicaCount": "two"}}, "/api/replicaCount"),
        ({"api": {"port": "8000"}}, "/api/port"),
        ({"config": {"requestTimeout": "5s"}}, "/config/requestTimeout"),
        ({"image": {"tag": "latest"}}, "/image/tag"),
        ({"postgresql": {"persistance": {"size": "1Gi"}}}, "'persistance' not allowed"),
        ({"redis": {"service": {"port": "6379"}}}, "/service/port"),
        ({"auth": {"oidc": {"jwksUrl": "http://sso.example.com/certs"}}}, "/auth/oidc/jwksUrl"),
        ({"auth": {"oidc": {"algorithms": ["RS256", "HS256"]}}}, "/auth/oidc/algorithms/1"),
        ({"auth": {"oidc": {"algorithms": ["none"]}}}, "/auth/oidc/algorithms/0"),
        ({"networkPolicy": {"apiEgress": {"to": []}}}, "/networkPolicy/apiEgress"),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(HelmValuesError, match=re.escape(complaint)):
        render(values)
    report = helm.lint(CHART, values, strict=True)
    assert any(complaint in error for error in report["errors"]), report


# ---- Worker Versioning --------------------------------------------------------------------------


def test_two_worker_versions_run_side_by_side_and_the_new_one_is_promoted() -> None:
    """During a rollout the chart runs the new build and the previous one, each in its own
    Deployment selecting only its own pods; the rollout Job (a plain Job, no hook) promotes the
    new build; no worker promotes itself."""
    previous = {"buildId": "2026-11-30", "image": "ghcr.io/sbs-platform/sbs:2026-11-30"}
    docs = render({"image": {"tag": "2026-12-04"}, "worker": {"previousVersions": [previous]}})
    versions = worker_versions(docs)
    assert set(versions) == {"2026-12-04", "2026-11-30"}
    for build, deployment in versions.items():
        container = main_container(deployment)
        env = resolved_env(container, docs)
        assert env["TEMPORAL_WORKER_BUILD_ID"]["value"] == build
        assert env["TEMPORAL_DEPLOYMENT_NAME"]["value"] == "sbs-worker"
        assert env["TEMPORAL_WORKER_SELF_PROMOTE"]["value"] == "false"
        assert container["image"] == f"ghcr.io/sbs-platform/sbs:{build}"
        selector = deployment["spec"]["selector"]["matchLabels"]
        for other in versions.values():
            labels = other["spec"]["template"]["metadata"]["labels"]
            assert (selector.items() <= labels.items()) == (other is deployment)
    assert component_workload(docs, "worker") is versions["2026-12-04"]
    # The worker Service (metrics) covers every version's pods.
    service = named(docs, "Service", f"{RELEASE}-worker")["spec"]["selector"]
    for deployment in versions.values():
        assert service.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    (rollout,) = [
        job
        for job in of_kind(docs, "Job")
        if job["metadata"]["labels"]["app.kubernetes.io/component"] == "worker-rollout"
    ]
    assert "helm.sh/hook" not in rollout["metadata"].get("annotations", {})
    command = main_container(rollout)["command"]
    assert command[:2] == ["scripts/worker_rollout.sh", "promote"]
    assert command[command.index("--build-id") + 1] == "2026-12-04"
    assert main_container(rollout)["image"] == "ghcr.io/sbs-platform/sbs:2026-12-04"


def test_a_new_build_gets_a_new_worker_deployment_and_rollout_job() -> None:
    """Never a rolling update from one build to the next inside one Deployment."""

    def names(tag: str) -> set[str]:
        docs = render({"image": {"tag": tag}})
        return {
            doc["metadata"]["name"]
            for doc in [*of_kind(docs, "Deployment"), *of_kind(docs, "Job")]
            if "worker" in doc["metadata"]["name"]
        }

    first, second = names("build-1"), names("build-2")
    assert len(first) == len(second) == 2
    assert not first & second
