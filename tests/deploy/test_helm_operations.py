"""The Helm chart survives day two: shutdown, disruptions, secrets, memory and exposure.

Rendered with the real Helm SDK like tests/deploy/test_helm.py. Proves: the API drains before it
stops (preStop, a grace period that covers drain + uvicorn's graceful timeout), the production
guard of the app holds for what the chart generates or is given, generated passwords stay
stable once their Secret exists (a scratch copy of the chart answers `lookup` from the Secrets
of a first render, the way a cluster would), every workload has its PodDisruptionBudget, Redis'
memory limit leaves room for its fork, NATS shuts down in lame-duck mode, /metrics never goes
through the Ingress and the `helm test` Pod calls real API routes.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from helm_python.errors import HelmRenderError

from tests.deploy.artifact_checks import app_paths, egress_problems
from tests.deploy.helm_chart import (
    CHART,
    RELEASE,
    Doc,
    app_containers,
    component_workload,
    main_container,
    named,
    of_kind,
    pod_annotations,
    pod_spec,
    render,
    render_chart,
)
from tests.deploy.test_helm import GOOD_PASSWORD, GOOD_TOKEN, PRODUCTION

STATEFUL = ("postgresql", "redis", "nats", "temporal")


@pytest.fixture(scope="module")
def default_docs() -> list[Doc]:
    return render({})


def config_map(docs: list[Doc]) -> dict[str, str]:
    data: dict[str, str] = named(docs, "ConfigMap", RELEASE)["data"]
    return data


def secret_values(docs: list[Doc]) -> dict[tuple[str, str], str]:
    return {
        (doc["metadata"]["name"], key): base64.b64decode(value).decode()
        for doc in of_kind(docs, "Secret")
        for key, value in doc["data"].items()
    }


def duration_seconds(text: str) -> int:
    match = re.fullmatch(r"(\d+)(ms|s|m)", text)
    assert match, text
    number, unit = int(match.group(1)), match.group(2)
    return {"ms": number // 1000, "s": number, "m": number * 60}[unit]


# ---- shutdown and probes -------------------------------------------------------------------------


def test_api_drains_before_it_stops(default_docs: list[Doc]) -> None:
    api_deployment = named(default_docs, "Deployment", f"{RELEASE}-api")
    api = main_container(api_deployment)
    pre_stop = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(config_map(default_docs)["SHUTDOWN_DRAIN_SECONDS"])
    assert pre_stop >= 3
    assert drain >= 1
    # uvicorn's graceful timeout is 10 s (runtime contract); 5 s margin before SIGKILL.
    grace = pod_spec(api_deployment)["terminationGracePeriodSeconds"]
    assert grace >= pre_stop + drain + 10 + 5, (grace, pre_stop, drain)
    paths = app_paths()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert api[probe]["httpGet"]["path"] in paths, probe
        assert api[probe]["httpGet"]["port"] in [port["name"] for port in api["ports"]]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"


def test_a_grace_period_shorter_than_the_drain_is_refused() -> None:
    with pytest.raises(HelmRenderError, match="terminationGracePeriodSeconds"):
        render({"api": {"terminationGracePeriodSeconds": 15}})
    docs = render({"api": {"shutdownDrainSeconds": 20, "terminationGracePeriodSeconds": 40}})
    assert config_map(docs)["SHUTDOWN_DRAIN_SECONDS"] == "20"


# ---- the production guard ------------------------------------------------------------------------


def test_api_and_worker_run_in_production_with_credentials_the_guard_accepts(
    default_docs: list[Doc],
) -> None:
    assert config_map(default_docs)["SBS_ENVIRONMENT"] == "production"
    assert config_map(render(PRODUCTION))["SBS_ENVIRONMENT"] == "production"
    for component, container in app_containers(default_docs).items():
        assert container["envFrom"][0]["configMapRef"]["name"] == RELEASE, component
    secrets = secret_values(default_docs)
    token = secrets[(RELEASE, "api-token")]
    assert len(token) >= 32
    assert token != "dev-token"
    assert secrets[(f"{RELEASE}-postgresql", "postgres-password")] != "secret"


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"secrets": {"apiToken": "dev-token"}}, "at least 32 characters"),
        ({"secrets": {"apiToken": "s" * 31}}, "at least 32 characters"),
        ({"postgresql": {"auth": {"password": "secret"}}}, 'password "secret"'),
        (
            {
                "postgresql": {"enabled": False},
                "externalDatabase": {"host": "db", "password": "secret"},
            },
            'password "secret"',
        ),
    ],
)
def test_development_credentials_are_refused(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(HelmRenderError, match=re.escape(complaint)):
        render(values)


def test_static_tokens_may_be_several_and_each_is_checked() -> None:
    both = f"{'a' * 32},{'b' * 40}"
    assert secret_values(render({"secrets": {"apiToken": both}}))[(RELEASE, "api-token")] == both
    with pytest.raises(HelmRenderError, match="each of its comma-separated tokens"):
        render({"secrets": {"apiToken": f"{'a' * 32},short"}})


IDENTITY_PROVIDER = {
    "issuer": "https://sso.example.com/realms/sbs",
    "audience": "sbs-api",
    "jwksUrl": "https://sso.example.com/realms/sbs/protocol/openid-connect/certs",
}


def test_oidc_settings_reach_api_and_worker_and_go_together() -> None:
    assert config_map(render({}))["OIDC_ISSUER"] == ""  # JWTs off by default
    data = config_map(render({"auth": {"oidc": {**IDENTITY_PROVIDER, "algorithms": ["ES384"]}}}))
    assert data["OIDC_ISSUER"] == IDENTITY_PROVIDER["issuer"]
    assert data["OIDC_JWKS_URL"] == IDENTITY_PROVIDER["jwksUrl"]
    assert data["OIDC_ALGORITHMS"] == "ES384"
    assert data["OIDC_SCOPE_CLAIMS"] == "scope,scp,roles"
    with pytest.raises(HelmRenderError, match="go together"):
        render({"auth": {"oidc": {"issuer": IDENTITY_PROVIDER["issuer"]}}})


def test_api_egress_is_open_unless_listed_then_dns_and_the_identity_provider_stay_reachable(
    default_docs: list[Doc],
) -> None:
    assert named(default_docs, "NetworkPolicy", f"{RELEASE}-api")["spec"]["policyTypes"] == [
        "Ingress"
    ]
    production = render(PRODUCTION)
    policy = named(production, "NetworkPolicy", f"{RELEASE}-api")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    to_identity_provider = [
        rule
        for rule in policy["egress"]
        if any(port["port"] == 443 for port in rule.get("ports", []))
    ]
    assert to_identity_provider
    assert "ipBlock" in to_identity_provider[0]["to"][0]
    assert egress_problems(production, "production") == []


def test_a_local_environment_may_use_a_short_token() -> None:
    docs = render({"config": {"environment": "local"}, "secrets": {"apiToken": "dev-token"}})
    assert secret_values(docs)[(RELEASE, "api-token")] == "dev-token"
    assert config_map(docs)["SBS_ENVIRONMENT"] == "local"


# ---- secrets: stable, kept, and rolling the pods -------------------------------------------------


def chart_with_cluster(tmp_path: Path, secrets: list[Doc]) -> Path:
    """A copy of the chart whose `lookup` of a Secret answers from `secrets`, as a cluster would."""
    copy = tmp_path / "sbs"
    shutil.copytree(CHART, copy)
    cluster = json.dumps({doc["metadata"]["name"]: doc for doc in secrets})
    fake = f"(get (fromJson {json.dumps(cluster)}) %s)"
    pattern = re.compile(r'lookup "v1" "Secret" \S+ (\$\w+|\.\w+)')
    replaced = 0
    for template in copy.rglob("*.tpl"), copy.rglob("*.yaml"):
        for path in template:
            text = path.read_text()
            new, count = pattern.subn(lambda match: fake % match.group(1), text)
            if count:
                path.write_text(new)
                replaced += count
    assert replaced >= 5, "every Secret lookup must be replaced (API token, PostgreSQL, Redis)"
    return copy


def test_generated_passwords_are_stable_once_their_secret_exists(tmp_path: Path) -> None:
    first = render({})
    generated = secret_values(first)
    assert set(generated) == {
        (RELEASE, "api-token"),
        (f"{RELEASE}-postgresql", "postgres-password"),
        (f"{RELEASE}-redis", "redis-password"),
    }
    # Without a cluster every render generates new ones: the lookup is what keeps them.
    regenerated = secret_values(render({}))
    assert all(generated[key] != regenerated[key] for key in generated)
    cluster_chart = chart_with_cluster(tmp_path, of_kind(first, "Secret"))
    for _ in range(2):
        again = render_chart(cluster_chart, {})
        assert secret_values(again) == generated
    # And the pods do not roll when nothing changed.
    checksums = [
        pod_annotations(named(render_chart(cluster_chart, {}), "Deployment", f"{RELEASE}-api"))
        for _ in range(2)
    ]
    assert checksums[0] == checksums[1]


def test_generated_secrets_are_kept_on_uninstall(default_docs: list[Doc]) -> None:
    for secret in of_kind(default_docs, "Secret"):
        annotations = secret["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep", secret["metadata"]["name"]


def test_existing_secrets_replace_every_generated_one() -> None:
    docs = render(
        {
            "secrets": {"existingSecret": "platform"},
            "postgresql": {"auth": {"existingSecret": "pg"}},
            "redis": {"auth": {"existingSecret": "cache"}},
            "temporal": {"persistence": {"existingSecret": "pg"}},
        }
    )
    assert of_kind(docs, "Secret") == []
    references = {
        item["valueFrom"]["secretKeyRef"]["name"]
        for container in app_containers(docs).values()
        for item in container["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert references == {"platform", "pg", "cache"}


def test_pods_roll_when_any_secret_they_read_changes() -> None:
    def annotations(values: dict[str, Any]) -> dict[str, str]:
        return pod_annotations(component_workload(render(values), "worker"))

    base = {"secrets": {"apiToken": GOOD_TOKEN}}
    reference = annotations(base)
    assert reference == annotations(base)
    for change in (
        {"postgresql": {"auth": {"password": GOOD_PASSWORD}}},
        {"redis": {"auth": {"existingSecret": "cache"}}},
        {"secrets": {"apiToken": "u" * 40}},
    ):
        assert annotations(base | change) != reference, change


# ---- disruptions ---------------------------------------------------------------------------------


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_every_stateful_workload_has_a_disruption_budget(default_docs: list[Doc]) -> None:
    budgets = of_kind(default_docs, "PodDisruptionBudget")
    workloads = [
        named(default_docs, kind, f"{RELEASE}-{name}")
        for kind, name in (
            ("StatefulSet", "postgresql"),
            ("StatefulSet", "redis"),
            ("StatefulSet", "nats"),
            ("Deployment", "temporal"),
        )
    ]
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if matches(b["spec"]["selector"]["matchLabels"], labels)]
        assert len(covering) == 1, workload["metadata"]["name"]
        # One pod: allowing one eviction keeps node drains (and EKS node upgrades) possible.
        assert covering[0]["spec"]["maxUnavailable"] == 1
    # One API pod and one worker: a minAvailable budget would block every drain.
    assert len(budgets) == len(STATEFUL)


def test_components_with_several_pods_get_a_budget() -> None:
    docs = render({"api": {"replicaCount": 3}, "worker": {"replicaCount": 2}})
    for component in ("api", "worker"):
        budget = named(docs, "PodDisruptionBudget", f"{RELEASE}-{component}")
        labels = component_workload(docs, component)["spec"]["template"]
        assert matches(budget["spec"]["selector"]["matchLabels"], labels["metadata"]["labels"])
        assert budget["spec"]["minAvailable"] == 1
    autoscaled = render({"autoscaling": {"enabled": True, "minReplicas": 2}})
    named(autoscaled, "PodDisruptionBudget", f"{RELEASE}-api")


# ---- Redis memory --------------------------------------------------------------------------------


def memory_mib(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_redis_evicts_only_expiring_keys_within_a_limit_that_fits_its_fork(
    default_docs: list[Doc],
) -> None:
    redis = main_container(named(default_docs, "StatefulSet", f"{RELEASE}-redis"))
    script = redis["command"][-1]
    maxmemory = int(re.search(r'echo "maxmemory (\d+)mb"', script).group(1))  # type: ignore[union-attr]
    assert 'echo "maxmemory-policy volatile-ttl"' in script
    assert 'echo "appendonly yes"' in script
    # An AOF rewrite forks; copy-on-write may duplicate every page of the data set.
    assert memory_mib(redis["resources"]["limits"]["memory"]) >= 2 * maxmemory + 64


def test_a_redis_limit_without_fork_headroom_is_refused() -> None:
    with pytest.raises(HelmRenderError, match="AOF rewrite forks"):
        render({"redis": {"resources": {"limits": {"cpu": "1", "memory": "256Mi"}}}})
    smaller = {"maxMemoryMiB": 96, "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}}
    render({"redis": smaller})


# ---- NATS and Temporal shutdown and Jobs ---------------------------------------------------------


def test_nats_shuts_down_in_lame_duck_mode(default_docs: list[Doc]) -> None:
    statefulset = named(default_docs, "StatefulSet", f"{RELEASE}-nats")
    nats = main_container(statefulset)
    command = nats["lifecycle"]["preStop"]["exec"]["command"]
    config = named(default_docs, "ConfigMap", f"{RELEASE}-nats")["data"]["nats.conf"]
    pid_file = re.search(r"^pid_file: (\S+)$", config, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert command == ["nats-server", "--signal", f"ldm={pid_file}"]
    mounts = [mount["mountPath"] for mount in nats["volumeMounts"]]
    assert str(Path(pid_file).parent) in mounts, "the pid file needs a writable directory"
    grace = duration_seconds(re.search(r"lame_duck_grace_period: (\S+)", config).group(1))  # type: ignore[union-attr]
    duration = duration_seconds(re.search(r"lame_duck_duration: (\S+)", config).group(1))  # type: ignore[union-attr]
    assert pod_spec(statefulset)["terminationGracePeriodSeconds"] >= grace + duration + 5


def test_jobs_end_and_are_cleaned_up(default_docs: list[Doc]) -> None:
    """The Temporal Jobs and the worker rollout Job."""
    jobs = of_kind(default_docs, "Job")
    assert len(jobs) == 3
    for job in jobs:
        spec = job["spec"]
        env = {item["name"]: item.get("value") for item in main_container(job)["env"]}
        waiting = int(env.get("WAIT_ATTEMPTS") or 0) * 5
        assert spec["activeDeadlineSeconds"] > waiting, job["metadata"]["name"]
        assert spec["ttlSecondsAfterFinished"] > 0


# ---- exposure and `helm test` --------------------------------------------------------------------


def routes_metrics(path: str, path_type: str) -> bool:
    if path_type == "Exact":
        return path == "/metrics"
    # Prefix matches whole path elements: only "/" and "/metrics" itself cover /metrics.
    return path.rstrip("/") in ("", "/metrics")


def test_the_ingress_routes_public_api_paths_but_never_metrics() -> None:
    for values in ({"ingress": {"enabled": True}}, PRODUCTION):
        ingress = named(render(values), "Ingress", f"{RELEASE}-api")
        paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
        assert paths
        served = app_paths()
        for entry in paths:
            assert not routes_metrics(entry["path"], entry["pathType"]), entry
            assert any(
                route == entry["path"] or route.startswith(entry["path"] + "/") for route in served
            ), f"ingress path {entry['path']} matches no API route"
    for path in ("/", "/metrics"):
        hosts = [{"host": "h.example", "paths": [{"path": path, "pathType": "Prefix"}]}]
        with pytest.raises(HelmRenderError, match="would expose /metrics"):
            render({"ingress": {"enabled": True, "hosts": hosts}})


def test_helm_test_pod_calls_health_and_version_through_the_service(
    default_docs: list[Doc],
) -> None:
    (pod,) = of_kind(default_docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    script = container["command"][-1]
    requested = re.findall(r'"(/[a-z/]+)"', script)
    assert requested == ["/health", "/version"]
    assert set(requested) <= app_paths()
    url = {item["name"]: item["value"] for item in container["env"]}["API_URL"]
    service = named(default_docs, "Service", f"{RELEASE}-api")
    assert url == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    # With a NetworkPolicy limited to the ingress controller, the test Pod is still admitted.
    docs = render(PRODUCTION)
    policy = named(docs, "NetworkPolicy", f"{RELEASE}-api")
    peers = policy["spec"]["ingress"][0]["from"]
    (test_pod,) = of_kind(docs, "Pod")
    selectors = [peer["podSelector"]["matchLabels"] for peer in peers if "podSelector" in peer]
    assert any(matches(selector, test_pod["metadata"]["labels"]) for selector in selectors)
