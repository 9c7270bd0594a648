"""The artifact validators catch real breakage: a catalogue of mutations, each applied alone.

Every mutation is a small, plausible mistake (a typo in a flag, a wrong port or path, a wrong
type, a removed key) made in a scratch copy of the repository; only the checks of the family it
touches run (tests/deploy/artifact_checks.py, a few seconds each). A mutation is killed when
those checks report a problem. The suite fails when one of the five mutations issue 12 found
surviving is not killed, when the unmutated copy is not clean, or when the kill rate falls
below 90 %; it prints the kill rate and the survivors.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy import artifact_checks

REPO = Path(__file__).resolve().parents[2]
# What the checks read: the artifacts and what they reference (scripts, the build context).
COPIED = (
    "docker-compose.yml",
    "Dockerfile",
    ".dockerignore",
    ".hadolint.yaml",
    "requirements.txt",
    "requirements.lock",
    "alembic.ini",
    "entrypoint.py",
    "run_api.py",
    "run_worker.py",
    "alembic",
    "app",
    "scripts",
    "deploy",
    "infrastructure",
    "monitoring",
)
MINIMUM_KILL_RATE = 0.9


@dataclass(frozen=True)
class Mutation:
    name: str
    family: str
    path: str
    old: str
    new: str


HELM = "deploy/helm/sbs"
TEMPORAL_CHART = f"{HELM}/charts/temporal/templates"
NATS_CHART = f"{HELM}/charts/nats/templates"
EKS = "infrastructure/terraform/modules/kubernetes_cluster"
ROLES = "infrastructure/ansible/roles"

# The five that survived every test before issue 12.
ISSUE_12_MUTATIONS = (
    Mutation(
        "temporal --config renderd",
        "helm",
        f"{TEMPORAL_CHART}/server-deployment.yaml",
        "--config rendered",
        "--config renderd",
    ),
    Mutation(
        "compose nats --server-name",
        "compose",
        "docker-compose.yml",
        '"--server_name"',
        '"--server-name"',
    ),
    Mutation(
        "ansible create-databse",
        "ansible",
        f"{ROLES}/temporal/templates/setup-schema.sh.j2",
        "create-database",
        "create-databse",
    ),
    Mutation(
        "terraform instance_types = number",
        "terraform",
        f"{EKS}/node_group.tf",
        "instance_types = var.node_instance_types",
        "instance_types = var.node_min_size",
    ),
    Mutation(
        "terraform max_unavailble",
        "terraform",
        f"{EKS}/node_group.tf",
        "max_unavailable = 1",
        "max_unavailble = 1",
    ),
)

# Issue 22: connection settings, TLS material and credentials in the chart; each must be killed
# by the check that names it (the second item is a fragment of that check's problem).
CONNECTION_MUTATIONS = (
    (
        Mutation(
            "helm TLS CA rendered into the ConfigMap",
            "helm",
            f"{HELM}/templates/configmap.yaml",
            "  NATS_SUBJECT: {{ .Values.config.natsSubject | quote }}\n",
            "  NATS_SUBJECT: {{ .Values.config.natsSubject | quote }}\n"
            '  NATS_TLS_CA: "-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIU\\n"\n',
        ),
        "holds PEM material",
    ),
    (
        Mutation(
            "helm worker TLS secret mount missing",
            "helm",
            f"{HELM}/templates/worker-deployment.yaml",
            '            {{- include "sbs.tlsVolumeMounts" $ | nindent 12 }}\n',
            "",
        ),
        "is not in a mounted Secret volume",
    ),
    (
        Mutation(
            "helm TLS volume from a ConfigMap",
            "helm",
            f"{HELM}/templates/_helpers.tpl",
            "  secret:\n    secretName: {{ $tls.existingSecret }}",
            "  configMap:\n    name: {{ $tls.existingSecret }}",
        ),
        "is not in a mounted Secret volume",
    ),
    (
        Mutation(
            "helm TLS key file name",
            "helm",
            f"{HELM}/templates/_helpers.tpl",
            'dict "caKey" "ca.crt" "certKey" "tls.crt" "keyKey" "tls.key"',
            'dict "caKey" "ca.crt" "certKey" "tls.crt" "keyKey" "tls-key"',
        ),
        "is not a file of its mounted Secret",
    ),
    (
        Mutation(
            "helm sentinel password as a literal",
            "helm",
            f"{HELM}/templates/_helpers.tpl",
            "- name: REDIS_SENTINEL_PASSWORD\n  valueFrom:\n    secretKeyRef:\n"
            "      name: {{ $redisSecret }}\n      key: {{ . }}",
            "- name: REDIS_SENTINEL_PASSWORD\n  value: {{ . | quote }}",
        ),
        "REDIS_SENTINEL_PASSWORD must come from a Secret",
    ),
    (
        Mutation(
            "helm schema accepts a sentinel without its port",
            "helm",
            f"{HELM}/values.schema.json",
            '"pattern": "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$"',
            '"pattern": "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$"',
        ),
        "helm schema accepts a Sentinel without its port",
    ),
    (
        Mutation(
            "helm schema accepts a client certificate without its key",
            "helm",
            f"{HELM}/values.schema.json",
            '"if": {\n            "properties": {\n              "certKey": {\n'
            '                "minLength": 1\n',
            '"if": {\n            "properties": {\n              "certKey": {\n'
            '                "minLength": 100\n',
        ),
        "helm schema accepts a client certificate without its key",
    ),
    (
        Mutation(
            "helm production NATS member without TLS",
            "helm",
            f"{HELM}/values-production.example.yaml",
            ",tls://nats-1.",
            ",nats://nats-1.",
        ),
        "reaches nats without verified TLS",
    ),
    (
        Mutation(
            "helm DATABASE_SSLMODE dropped",
            "helm",
            f"{HELM}/templates/configmap.yaml",
            'DATABASE_SSLMODE: {{ ternary .Values.externalDatabase.sslmode "" $external | quote }}',
            'DATABASE_SSLMODE: ""',
        ),
        "reaches postgresql without verified TLS",
    ),
)

# Issue 25: the postgresql role's WAL archiving and scheduled, verified base backups.
BACKUP_MUTATIONS = (
    Mutation(
        "ansible archive_mode off",
        "ansible",
        f"{ROLES}/postgresql/tasks/main.yml",
        "- archive_mode=on",
        "- archive_mode=off",
    ),
    Mutation(
        "ansible archive_command option name",
        "ansible",
        f"{ROLES}/postgresql/tasks/main.yml",
        '"archive_command=',
        '"archive_comand=',
    ),
    Mutation(
        "ansible WAL archived inside the container",
        "ansible",
        f"{ROLES}/postgresql/tasks/main.yml",
        "cp %p /backups/wal/%f",
        "cp %p /var/lib/postgresql/wal/%f",
    ),
    Mutation(
        "ansible backup directory not mounted",
        "ansible",
        f"{ROLES}/postgresql/tasks/main.yml",
        '"{{ postgresql_backup_dir }}:/backups"',
        '"{{ postgresql_backup_dir }}:/backup"',
    ),
    Mutation(
        "ansible backup kept unverified",
        "ansible",
        f"{ROLES}/postgresql/templates/sbs-postgresql-backup.sh.j2",
        "if ! in_container pg_verifybackup",
        "if ! in_container true",
    ),
    Mutation(
        "ansible backup script shell error",
        "ansible",
        f"{ROLES}/postgresql/templates/sbs-postgresql-backup.sh.j2",
        'in_container pg_archivecleanup /backups/wal "$oldest_segment"',
        "in_container pg_archivecleanup /backups/wal $oldest_segment",
    ),
    Mutation(
        "ansible backup not scheduled",
        "ansible",
        f"{ROLES}/postgresql/tasks/main.yml",
        'job: "{{ postgresql_backup_script }} >>',
        'job: "/usr/local/sbin/sbs-backup >>',
    ),
    Mutation(
        "ansible backup retention zero",
        "ansible",
        f"{ROLES}/postgresql/defaults/main.yml",
        "postgresql_backup_keep: 7",
        "postgresql_backup_keep: 0",
    ),
)

CATALOGUE = (
    *ISSUE_12_MUTATIONS,
    *(mutation for mutation, _ in CONNECTION_MUTATIONS),
    *BACKUP_MUTATIONS,
    # docker-compose.yml
    Mutation(
        "compose nats monitor port not a number",
        "compose",
        "docker-compose.yml",
        '"-m", "8222"',
        '"-m", "82x22"',
    ),
    Mutation(
        "compose nats -js typo",
        "compose",
        "docker-compose.yml",
        '"nats-server", "-js"',
        '"nats-server", "-jz"',
    ),
    Mutation(
        "compose redis policy typo",
        "compose",
        "docker-compose.yml",
        '"volatile-ttl"',
        '"volatile-tll"',
    ),
    Mutation(
        "compose redis maxmemory flag typo",
        "compose",
        "docker-compose.yml",
        '"--maxmemory", "96mb"',
        '"--maxmemroy", "96mb"',
    ),
    Mutation(
        "compose api wrong container port",
        "compose",
        "docker-compose.yml",
        '"127.0.0.1:8000:8000"',
        '"127.0.0.1:8000:8001"',
    ),
    Mutation(
        "compose api healthcheck path",
        "compose",
        "docker-compose.yml",
        "127.0.0.1:8000/health/live",
        "127.0.0.1:8000/healthz",
    ),
    Mutation(
        "compose worker healthcheck module",
        "compose",
        "docker-compose.yml",
        '["CMD", "python", "-m", "app.healthcheck"]',
        '["CMD", "python", "-m", "app.healthchecks"]',
    ),
    Mutation(
        "compose api script path",
        "compose",
        "docker-compose.yml",
        'command: ["scripts/start_api.sh"]',
        'command: ["scripts/start-api.sh"]',
    ),
    Mutation(
        "compose unknown app variable",
        "compose",
        "docker-compose.yml",
        "    LOG_LEVEL: ${LOG_LEVEL:-INFO}",
        "    LOG_LEVLE: ${LOG_LEVEL:-INFO}",
    ),
    Mutation(
        "compose temporal-sql-tool command",
        "compose",
        "docker-compose.yml",
        'update-schema -d "$$schema_dir"',
        'upgrade-schema -d "$$schema_dir"',
    ),
    Mutation(
        "compose prometheus mount path",
        "compose",
        "docker-compose.yml",
        "./monitoring/prometheus:/etc/prometheus:ro",
        "./monitoring/prometeus:/etc/prometheus:ro",
    ),
    # Dockerfile
    Mutation(
        "dockerfile COPY missing dir",
        "dockerfile",
        "Dockerfile",
        "COPY alembic/ ./alembic/",
        "COPY alembics/ ./alembic/",
    ),
    Mutation(
        "dockerfile EXPOSE wrong port", "dockerfile", "Dockerfile", "EXPOSE 8000", "EXPOSE 8080"
    ),
    Mutation(
        "dockerfile HEALTHCHECK module",
        "dockerfile",
        "Dockerfile",
        '"-m", "app.healthcheck"]',
        '"-m", "app.health_check"]',
    ),
    Mutation(
        "healthcheck module probe path",
        "dockerfile",
        "app/healthcheck.py",
        '/health/ready"',
        '/ready"',
    ),
    Mutation(
        "dockerfile CMD script",
        "dockerfile",
        "Dockerfile",
        'CMD ["scripts/start_api.sh"]',
        'CMD ["scripts/start_app.sh"]',
    ),
    # Helm
    Mutation(
        "helm readiness path",
        "helm",
        f"{HELM}/templates/api-deployment.yaml",
        "path: /health/ready",
        "path: /health/readyz",
    ),
    Mutation(
        "helm probe port name",
        "helm",
        f"{HELM}/templates/worker-deployment.yaml",
        "            - name: health\n",
        "            - name: healthz\n",
    ),
    Mutation(
        "helm API_PORT disagrees with the port",
        "helm",
        f"{HELM}/templates/configmap.yaml",
        "API_PORT: {{ .Values.api.port | quote }}",
        'API_PORT: "8001"',
    ),
    # Worker Versioning: one Deployment per build id, promoted by the rollout Job only.
    Mutation(
        "helm worker versions share one build id",
        "helm",
        f"{HELM}/templates/worker-deployment.yaml",
        "value: {{ $version.buildId | quote }}",
        "value: {{ $.Values.worker.buildId | quote }}",
    ),
    Mutation(
        "helm worker version selector dropped",
        "helm",
        f"{HELM}/templates/worker-deployment.yaml",
        "      sbs.platform/worker-version: {{ $key | quote }}\n  template:",
        "  template:",
    ),
    Mutation(
        "helm workers promote themselves",
        "helm",
        f"{HELM}/templates/configmap.yaml",
        'TEMPORAL_WORKER_SELF_PROMOTE: "false"',
        'TEMPORAL_WORKER_SELF_PROMOTE: "true"',
    ),
    Mutation(
        "helm rollout promotes an old build",
        "helm",
        f"{HELM}/templates/worker-rollout-job.yaml",
        '$current := first (include "sbs.workerVersions"',
        '$current := last (include "sbs.workerVersions"',
    ),
    Mutation(
        "helm service targetPort",
        "helm",
        f"{HELM}/templates/api-service.yaml",
        "targetPort: http",
        "targetPort: api",
    ),
    Mutation(
        "helm undeclared volume",
        "helm",
        f"{HELM}/templates/api-deployment.yaml",
        "            - name: tmp\n              mountPath: /tmp",
        "            - name: temp\n              mountPath: /tmp",
    ),
    Mutation(
        "helm removed temporal config mount",
        "helm",
        f"{TEMPORAL_CHART}/server-deployment.yaml",
        "            - name: config\n              mountPath: /etc/temporal/rendered\n",
        "",
    ),
    Mutation(
        "helm temporal-server flag",
        "helm",
        f"{TEMPORAL_CHART}/server-deployment.yaml",
        "--env docker start",
        "--environment docker start",
    ),
    Mutation(
        "helm temporal schema dir",
        "helm",
        f"{TEMPORAL_CHART}/schema-job.yaml",
        "v12/visibility/versioned",
        "v12/visiblity/versioned",
    ),
    Mutation(
        "helm schema wait dir",
        "helm",
        f"{TEMPORAL_CHART}/server-deployment.yaml",
        'wait_for "$VISIBILITY_DB" "$schema_root/visibility/versioned"',
        'wait_for "$VISIBILITY_DB" "$schema_root/visibilty/versioned"',
    ),
    Mutation(
        "helm temporal-sql-tool command",
        "helm",
        f"{TEMPORAL_CHART}/schema-job.yaml",
        "sql update-schema -d",
        "sql update-schemas -d",
    ),
    Mutation(
        "helm nats config field",
        "helm",
        f"{NATS_CHART}/configmap.yaml",
        "store_dir: /data/jetstream",
        "store_dri: /data/jetstream",
    ),
    Mutation(
        "helm nats config path",
        "helm",
        f"{NATS_CHART}/statefulset.yaml",
        "- /etc/nats/nats.conf",
        "- /etc/nats/nats.yaml",
    ),
    Mutation(
        "helm nats lame-duck signal",
        "helm",
        f"{NATS_CHART}/statefulset.yaml",
        '"ldm=/var/run/nats/nats.pid"',
        '"lameduck=/var/run/nats/nats.pid"',
    ),
    Mutation(
        "helm redis directive",
        "helm",
        f"{HELM}/charts/redis/templates/statefulset.yaml",
        'echo "maxmemory-policy',
        'echo "maxmemory-polcy',
    ),
    Mutation(
        "helm pdb selects nothing",
        "helm",
        f"{HELM}/charts/postgresql/templates/pdb.yaml",
        'include "postgresql.selectorLabels" . | nindent 6',
        'include "postgresql.selectorLabels" . | replace "postgresql" "postgres" | nindent 6',
    ),
    Mutation(
        "helm production egress misses the identity provider",
        "helm",
        f"{HELM}/values-production.example.yaml",
        "        - port: 443\n",
        "        - port: 8443\n",
    ),
    Mutation(
        "helm API egress without DNS",
        "helm",
        f"{HELM}/templates/networkpolicy.yaml",
        "[{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]",
        "[{port: 5353, protocol: UDP}]",
    ),
    Mutation(
        "helm production JWKS in clear",
        "helm",
        f"{HELM}/values-production.example.yaml",
        "jwksUrl: https://",
        "jwksUrl: http://",
    ),
    Mutation(
        "helm production allows HS256",
        "helm",
        f"{HELM}/values-production.example.yaml",
        "      - RS256\n",
        "      - HS256\n",
    ),
    Mutation(
        "helm OIDC variable name",
        "helm",
        f"{HELM}/templates/configmap.yaml",
        "  OIDC_AUDIENCE: {{",
        "  OIDC_AUDIENCES: {{",
    ),
    Mutation(
        "helm scope claims joined by spaces",
        "helm",
        f"{HELM}/templates/configmap.yaml",
        'join "," .Values.auth.oidc.scopeClaims',
        'join " " .Values.auth.oidc.scopeClaims',
    ),
    Mutation(
        "helm wrong key type",
        "helm",
        f"{HELM}/templates/api-deployment.yaml",
        "revisionHistoryLimit: 5",
        'revisionHistoryLimit: "five"',
    ),
    # Terraform
    Mutation(
        "terraform nested argument typo",
        "terraform",
        f"{EKS}/node_group.tf",
        "http_put_response_hop_limit = 1",
        "http_put_response_hop_limt = 1",
    ),
    Mutation(
        "terraform argument typo",
        "terraform",
        f"{EKS}/main.tf",
        "enable_key_rotation     = true",
        "enable_key_rotaion      = true",
    ),
    Mutation(
        "terraform undeclared variable",
        "terraform",
        f"{EKS}/main.tf",
        "version  = var.kubernetes_version",
        "version  = var.kubernets_version",
    ),
    Mutation(
        "terraform module argument",
        "terraform",
        "infrastructure/terraform/environments/test/main.tf",
        "node_min_size       = var.eks_node_count",
        "node_minimum_size   = var.eks_node_count",
    ),
    Mutation(
        "terraform list where a string belongs",
        "terraform",
        f"{EKS}/node_group.tf",
        "ami_type       = var.node_ami_type",
        "ami_type       = var.node_instance_types",
    ),
    # Ansible
    Mutation(
        "ansible module option typo",
        "ansible",
        f"{ROLES}/redis/tasks/main.yml",
        "healthy_wait_timeout:",
        "healthy_wait_timout:",
    ),
    Mutation(
        "ansible suboption typo",
        "ansible",
        f"{ROLES}/nats/tasks/main.yml",
        "        aliases:",
        "        alias:",
    ),
    Mutation(
        "ansible template option",
        "ansible",
        f"{ROLES}/nats/tasks/main.yml",
        "    src: nats-server.conf.j2",
        "    source: nats-server.conf.j2",
    ),
    Mutation(
        "ansible redis policy",
        "ansible",
        f"{ROLES}/redis/defaults/main.yml",
        "redis_maxmemory_policy: volatile-ttl",
        "redis_maxmemory_policy: volatile_ttl",
    ),
    Mutation(
        "ansible nats config field",
        "ansible",
        f"{ROLES}/nats/templates/nats-server.conf.j2",
        'store_dir: "/data"',
        'stor_dir: "/data"',
    ),
    Mutation(
        "ansible schema dir",
        "ansible",
        f"{ROLES}/temporal/templates/setup-schema.sh.j2",
        "/temporal/versioned",
        "/temporal/version",
    ),
    Mutation(
        "ansible postgres option name",
        "ansible",
        f"{ROLES}/postgresql/tasks/main.yml",
        '"max_connections={{',
        '"max_connectoins={{',
    ),
    Mutation(
        "ansible postgres option value",
        "ansible",
        f"{ROLES}/postgresql/defaults/main.yml",
        "postgresql_max_connections: 200",
        "postgresql_max_connections: 2OO",
    ),
    Mutation(
        "ansible redis password directive",
        "ansible",
        f"{ROLES}/redis/templates/redis.conf.j2",
        'requirepass "',
        'requirepas "',
    ),
    Mutation(
        "ansible broken YAML", "ansible", "infrastructure/ansible/site.yml", "roles:", "roles"
    ),
    # Prometheus
    Mutation(
        "prometheus api target port",
        "prometheus",
        "monitoring/prometheus/prometheus.yml",
        '"api:8000"',
        '"api:8001"',
    ),
    Mutation(
        "prometheus worker target port",
        "prometheus",
        "monitoring/prometheus/prometheus.yml",
        '"worker:9464"',
        '"worker:9465"',
    ),
    Mutation(
        "prometheus bad duration",
        "prometheus",
        "monitoring/prometheus/prometheus.yml",
        "scrape_timeout: 10s",
        "scrape_timeout: 10 seconds",
    ),
    Mutation(
        "prometheus rule key typo",
        "prometheus",
        "monitoring/prometheus/rules/sbs-alerts.yml",
        '        expr: up{job="sbs-api"} == 0',
        '        exp: up{job="sbs-api"} == 0',
    ),
    Mutation(
        "prometheus rule PromQL",
        "prometheus",
        "monitoring/prometheus/rules/sbs-alerts.yml",
        'up{job="sbs-api"} == 0',
        'up{job="sbs-api"} === 0',
    ),
)


# Mistakes only running the chart shows for certain: tests/image/test_chart_in_podman.py plays the
# mutated chart with `podman kube play` against the test stack and must see each one fail.
KUBE_MUTATIONS = (
    Mutation(
        "kube api command",
        "kube",
        f"{HELM}/values.yaml",
        "    - scripts/start_api.sh",
        "    - scripts/start-api.sh",
    ),
    Mutation(
        "kube api token variable name",
        "kube",
        f"{HELM}/templates/_helpers.tpl",
        "- name: SBS_API_TOKEN",
        "- name: SBS_API_TOKN",
    ),
    Mutation(
        "kube worker readiness path",
        "kube",
        f"{HELM}/templates/worker-deployment.yaml",
        "path: /health/ready",
        "path: /health/readiness",
    ),
)


def copy_repository(destination: Path) -> Path:
    destination.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        elif source.exists():
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repository(tmp_path_factory.mktemp("pristine") / "repo")


def apply(mutation: Mutation, pristine: Path, scratch: Path) -> Path:
    root = scratch / "repo"
    shutil.copytree(pristine, root, symlinks=True)
    target = root / mutation.path
    text = target.read_text()
    assert text.count(mutation.old) == 1, f"{mutation.name}: {mutation.old!r} must occur once"
    target.write_text(text.replace(mutation.old, mutation.new))
    return root


def test_the_catalogue_covers_every_family_with_distinct_mutations() -> None:
    assert len(CATALOGUE) >= 30
    assert {m.family for m in CATALOGUE} == set(artifact_checks.CHECKS)
    assert len({m.name for m in CATALOGUE}) == len(CATALOGUE)
    for mutation in CATALOGUE:
        assert mutation.old != mutation.new, mutation.name


def test_the_schema_extract_covers_every_resource_type_of_the_eks_module() -> None:
    import hcl2.api

    declared = {
        resource_type
        for path in (REPO / EKS).glob("*.tf")
        for block in hcl2.api.loads(path.read_text()).get("resource", [])
        for resource_type in block
    }
    assert declared <= set(artifact_checks.provider_schema()["resources"])


@pytest.mark.parametrize("family", sorted(artifact_checks.CHECKS))
def test_the_unmutated_copy_passes_every_check(family: str, pristine: Path) -> None:
    assert artifact_checks.CHECKS[family](pristine) == []


def test_the_validators_kill_the_mutations(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survivors = []
    findings = {}
    for index, mutation in enumerate(CATALOGUE):
        root = apply(mutation, pristine, tmp_path / f"m{index:02d}")
        problems = artifact_checks.CHECKS[mutation.family](root)
        if problems:
            findings[mutation.name] = problems[0]
        else:
            survivors.append(mutation.name)
        shutil.rmtree(root)
    rate = 1 - len(survivors) / len(CATALOGUE)
    with capsys.disabled():
        print(
            f"\nmutation kill rate: {len(CATALOGUE) - len(survivors)}/{len(CATALOGUE)} = {rate:.0%}"
            + (f"; survivors: {survivors}" if survivors else "")
        )
    named = [m.name for m in (*ISSUE_12_MUTATIONS, *BACKUP_MUTATIONS) if m.name in survivors]
    assert named == [], f"issue 12's or issue 25's mutations survive: {named}"
    assert rate >= MINIMUM_KILL_RATE, f"kill rate {rate:.0%} < 90 %; survivors: {survivors}"
    for mutation in ISSUE_12_MUTATIONS:
        assert mutation.name in findings


@pytest.mark.parametrize(
    ("mutation", "expected"),
    CONNECTION_MUTATIONS,
    ids=[mutation.name for mutation, _ in CONNECTION_MUTATIONS],
)
def test_the_connection_mutations_are_each_caught_by_their_check(
    mutation: Mutation, expected: str, pristine: Path, tmp_path: Path
) -> None:
    root = apply(mutation, pristine, tmp_path)
    problems = artifact_checks.CHECKS[mutation.family](root)
    assert any(expected in problem for problem in problems), problems
