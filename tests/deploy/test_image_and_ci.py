"""The container image recipe, the shell scripts and the CI/CD workflow are sound.

- Dockerfile: hadolint finds nothing; the image is multi-stage on a pinned python:3.12 slim
  tag, caches dependencies apart from code, runs as uid 10001, and its HEALTHCHECK really
  tells a 200 from a 503 (the probe runs here against a local HTTP server).
- .dockerignore keeps everything the Dockerfile copies and nothing else (evaluated with
  Docker's rules: last matching pattern wins, `!` re-includes, a directory match covers
  what is inside it).
- scripts/*.sh: shellcheck finds nothing; the start scripts run from any directory and pass
  their arguments on; deploy_test.sh parses image references into the chart's values and
  calls Helm as expected (a fake `helm` records the calls).
- .github/workflows: valid against the GitHub workflow schema, zizmor finds nothing of
  medium or high severity, actions are pinned by SHA, and the jobs do what the spec says.
"""

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.config import free_ports
from tests.tools import unmeasured_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DOCKERFILE = REPO_ROOT / "Dockerfile"
WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
CI_WORKFLOW = WORKFLOW_DIR / "ci.yml"
SCRIPTS = REPO_ROOT / "scripts"
OWN_SCRIPTS = ("start_api.sh", "start_worker.sh", "worker_rollout.sh", "deploy_test.sh")
RUNTIME_SOURCES = {
    "app",
    "alembic",
    "alembic.ini",
    "entrypoint.py",
    "run_api.py",
    "run_worker.py",
    "scripts/start_api.sh",
    "scripts/start_worker.sh",
    "scripts/worker_rollout.sh",
}
DIGEST = "sha256:" + "ab" * 32


def tool(name: str) -> str:
    path = VENV_BIN / name
    assert path.exists(), f"{name} is not installed in {VENV_BIN} (requirements-dev.txt)"
    return str(path)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)


# ---- Dockerfile -------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in dockerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_hadolint_finds_nothing() -> None:
    result = run([tool("hadolint"), str(DOCKERFILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_does_report_problems() -> None:
    result = run([tool("hadolint"), "-"], input="FROM python:latest\nRUN cd /tmp\n")
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # `latest` tag


def test_base_image_is_a_pinned_python_312_slim() -> None:
    arguments = dict(
        value.split("=", 1)
        for keyword, value in dockerfile_instructions()
        if keyword == "ARG" and "=" in value
    )
    assert re.fullmatch(r"python:3\.12\.\d+-slim-(bookworm|trixie)", arguments["PYTHON_IMAGE"])
    froms = [value for keyword, value in dockerfile_instructions() if keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]


def test_dependencies_are_a_layer_of_their_own() -> None:
    builder, runtime = stages()
    copies = [value for keyword, value in builder if keyword == "COPY"]
    assert copies == ["requirements.lock /tmp/requirements.lock"], "builder copies only deps"
    runs = [value for keyword, value in builder if keyword == "RUN"]
    assert any(
        "-r /tmp/requirements.lock" in value
        and "--require-hashes" in value
        and "--no-cache-dir" in value
        for value in runs
    )
    runtime_copies = [value for keyword, value in runtime if keyword == "COPY"]
    assert runtime_copies[0] == "--from=builder /opt/venv /opt/venv", "venv before the code"


def test_final_stage_has_no_build_tools_and_copies_only_what_runs() -> None:
    runtime = stages()[-1]
    for keyword, value in runtime:
        if keyword == "RUN":
            assert not re.search(r"apt-get|apk |gcc|build-essential|pip install", value), value
    copied = set()
    for keyword, value in runtime:
        if keyword == "COPY" and not value.startswith("--from="):
            sources = [part for part in value.split()[:-1] if not part.startswith("--")]
            copied |= {source.rstrip("/") for source in sources}
    assert copied == RUNTIME_SOURCES
    missing = sorted(source for source in copied if not (REPO_ROOT / source).exists())
    assert not missing, f"the Dockerfile copies files that do not exist: {missing}"


def test_runs_as_non_root_sbs_with_the_specs_interface() -> None:
    runtime = stages()[-1]
    values = {keyword: [v for k, v in runtime if k == keyword] for keyword, _ in runtime}
    assert any(
        "groupadd --system --gid 10001 sbs" in v and "--uid 10001" in v for v in values["RUN"]
    )
    assert values["USER"] == ["10001:10001"]
    assert values["WORKDIR"] == ["/app"]
    assert values["EXPOSE"] == ["8000"]
    environment = " ".join(values["ENV"])
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "APP_BUILD=${APP_BUILD}"):
        assert setting in environment
    assert 'APP_BUILD=""' in values["ARG"]
    assert values["CMD"] == ['["scripts/start_api.sh"]']
    (healthcheck,) = values["HEALTHCHECK"]
    assert "--timeout=" in healthcheck
    assert '["python", "-m", "app.healthcheck"]' in healthcheck


class _Health(BaseHTTPRequestHandler):
    status = 200
    path_served = "/health/live"

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == self.path_served else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
@pytest.mark.parametrize(("role", "path"), [("api", "/health/live"), ("worker", "/health/ready")])
def test_healthcheck_probe_tells_healthy_from_unhealthy(
    health_server: ThreadingHTTPServer, status: int, healthy: bool, role: str, path: str
) -> None:
    """The image's check answers for the API (its liveness) and for the worker (its pollers)."""
    _, healthcheck = next(i for i in dockerfile_instructions() if i[0] == "HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert command == ["python", "-m", "app.healthcheck"]
    port = str(health_server.server_address[1])
    nothing_listens = str(free_ports(1)[0])
    ports = {"api": port, "worker": nothing_listens}
    if role == "worker":
        ports = {"api": nothing_listens, "worker": port}
    _Health.status, _Health.path_served = status, path
    result = run(
        [sys.executable, "-m", "app.healthcheck"],
        cwd=REPO_ROOT,
        env={**os.environ, "API_PORT": ports["api"], "WORKER_HEALTH_PORT": ports["worker"]},
    )
    assert (result.returncode == 0) is healthy, result.stdout


# ---- requirements.lock ------------------------------------------------------------------


def parse_lock(text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of each `name==version --hash=...` entry of a pip lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        name, _, version = requirement.partition("==")
        assert version, f"not pinned with ==: {line}"
        hashes = [
            option.removeprefix("--hash=") for option in options if option.startswith("--hash=")
        ]
        entries[canonical(name.split("[")[0])] = (version, hashes)
    return entries


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level_pins() -> dict[str, str]:
    pins = {}
    for raw in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonical(name.split("[")[0])] = version
    return pins


def lock_problems(lock_text: str) -> list[str]:
    entries = parse_lock(lock_text)
    problems = [
        f"{name}=={pinned} is {entries[name][0] if name in entries else 'missing'} in the lock"
        for name, pinned in top_level_pins().items()
        if entries.get(name, ("",))[0] != pinned
    ]
    problems += [
        f"{name} has no sha256 hash"
        for name, (_, hashes) in entries.items()
        if not hashes or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes)
    ]
    return problems


def test_lock_pins_every_requirement_with_hashes() -> None:
    lock = (REPO_ROOT / "requirements.lock").read_text()
    assert lock.startswith("# This file was autogenerated by uv"), "regenerate it with `make lock`"
    assert "make lock" in lock.splitlines()[1]
    assert lock_problems(lock) == []
    assert len(parse_lock(lock)) > len(top_level_pins()), "the lock lists the whole tree"


@pytest.mark.parametrize(
    ("mutation", "problem"),
    [
        (lambda text: text.replace("fastapi==", "fastapi==0.0.0.dev0+", 1), "fastapi=="),
        (lambda text: re.sub(r"\\\n\s*--hash=sha256:\w+", "", text), "no sha256 hash"),
        (lambda text: re.sub(r"(?m)^redis==.*(\n\s+(--hash|#).*)*", "", text), "redis==8"),
    ],
    ids=["version-drift", "hashes-removed", "entry-missing"],
)
def test_lock_check_catches_a_stale_lock(mutation: Any, problem: str) -> None:
    mutated = mutation((REPO_ROOT / "requirements.lock").read_text())
    assert any(problem in found for found in lock_problems(mutated)), lock_problems(mutated)


# ---- .dockerignore ----------------------------------------------------------------------


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        index = 0
        while index < len(pattern):
            if pattern.startswith("**/", index):
                regex, index = regex + "(?:.*/)?", index + 3
            elif pattern.startswith("**", index):
                regex, index = regex + ".*", index + 2
            elif pattern[index] == "*":
                regex, index = regex + "[^/]*", index + 1
            elif pattern[index] == "?":
                regex, index = regex + "[^/]", index + 1
            elif pattern[index] == "[":
                end = pattern.index("]", index)
                regex, index = regex + pattern[index : end + 1], end + 1
            else:
                regex, index = regex + re.escape(pattern[index]), index + 1
        rules.append((negated, re.compile(regex)))
    return rules


def is_excluded(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_rules():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        ".env",
        ".state/postgres/PG_VERSION",
        "tests/deploy/test_compose.py",
        "bench/RESULTS.md",
        "deploy/helm/sbs/Chart.yaml",
        "requirements.txt",
        "scripts/deploy_test.sh",
        "scripts/install_podman.sh",
        "infrastructure/terraform/main.tf",
        "monitoring/prometheus/prometheus.yml",
        "devstack/stack.py",
        ".github/workflows/ci.yml",
        "docker-compose.yml",
        "requirements-dev.txt",
        "app/__pycache__/config.cpython-312.pyc",
        "app/.env",
        ".pytest_cache/v/cache",
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    assert is_excluded(path)


@pytest.mark.parametrize(
    "path",
    [
        "requirements.lock",
        "alembic.ini",
        "entrypoint.py",
        "run_api.py",
        "run_worker.py",
        "app/config.py",
        "app/api/main.py",
        "alembic/env.py",
        "scripts/start_api.sh",
        "scripts/start_worker.sh",
        "scripts/worker_rollout.sh",
    ],
)
def test_dockerignore_keeps_what_the_image_needs(path: str) -> None:
    assert not is_excluded(path)


# ---- scripts ----------------------------------------------------------------------------


def test_shellcheck_finds_nothing_in_any_script() -> None:
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert {script.name for script in scripts} >= set(OWN_SCRIPTS)
    result = run([tool("shellcheck"), *map(str, scripts)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_does_report_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    result = run([tool("shellcheck"), str(bad)])
    assert result.returncode != 0
    assert "SC2086" in result.stdout


@pytest.mark.parametrize("name", OWN_SCRIPTS)
def test_scripts_are_strict_and_executable(name: str) -> None:
    script = SCRIPTS / name
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert os.access(script, os.X_OK), f"{name} is not executable"
    staged = run(["git", "ls-files", "-s", "--", f"scripts/{name}"], cwd=REPO_ROOT).stdout
    if staged:  # once committed, git must keep the executable bit
        assert staged.startswith("100755 "), staged


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    """A `python` that reports where it ran and with which arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text('#!/bin/sh\necho "cwd=$(pwd)"\necho "args=$*"\n')
    fake.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(
    ("script", "program"),
    [
        ("start_api.sh", "entrypoint.py"),
        ("start_worker.sh", "run_worker.py"),
        ("worker_rollout.sh", "-m app.temporal.rollout"),
    ],
)
def test_start_scripts_run_from_the_repo_root(
    fake_python: Path, tmp_path: Path, script: str, program: str
) -> None:
    environment = {"PATH": f"{fake_python}:{os.environ['PATH']}"}
    result = run(
        ["bash", str(SCRIPTS / script), "--migrate-only", "x y"], cwd=tmp_path, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert f"cwd={REPO_ROOT}" in result.stdout
    assert f"args={program} --migrate-only x y" in result.stdout


@pytest.fixture
def fake_tools(tmp_path: Path) -> Path:
    """A `helm` and a `cosign` that record each call (one line per call, "<tool> <args>") in
    the same file; helm reports HELM_FAKE_VERSION, cosign fails when COSIGN_FAKE_FAIL is set."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(
        "#!/usr/bin/env bash\n"
        'if [[ $1 == version ]]; then echo "${HELM_FAKE_VERSION:-v4.2.4}"; exit 0; fi\n'
        'printf "helm %s\\n" "$*" >> "$TOOL_CALLS"\n'
    )
    cosign = bin_dir / "cosign"
    cosign.write_text(
        "#!/usr/bin/env bash\n"
        'printf "cosign %s\\n" "$*" >> "$TOOL_CALLS"\n'
        'if [[ -n ${COSIGN_FAKE_FAIL:-} ]]; then echo "no matching signatures" >&2; exit 1; fi\n'
    )
    for tool_file in (helm, cosign):
        tool_file.chmod(0o755)
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: sbs\nversion: 1.0.0\n")
    return tmp_path


IDENTITY = "https://github.com/acme/sbs/.github/workflows/ci.yml@refs/heads/main"


def deploy(
    workdir: Path, *args: str, **extra_env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    calls = workdir / "calls.txt"
    calls.unlink(missing_ok=True)
    environment = {
        "PATH": f"{workdir / 'fake-bin'}:{os.environ['PATH']}",
        "TOOL_CALLS": str(calls),
        "CHART_DIR": str(workdir / "chart"),
        "COSIGN_CERTIFICATE_IDENTITY": IDENTITY,
        **extra_env,
    }
    result = run(["bash", str(SCRIPTS / "deploy_test.sh"), *args], cwd=workdir, env=environment)
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_deploy_without_an_argument_prints_usage_and_exits_2(fake_tools: Path) -> None:
    result, calls = deploy(fake_tools)
    assert result.returncode == 2
    assert "Usage: scripts/deploy_test.sh IMAGE_REF" in result.stderr
    assert calls == []


@pytest.mark.parametrize(
    ("image_ref", "expected"),
    [
        (
            f"ghcr.io/acme/sbs@{DIGEST}",
            {"image.repository": "ghcr.io/acme/sbs", "image.digest": DIGEST},
        ),
        (
            f"localhost:5000/sbs:main@{DIGEST}",
            {"image.repository": "localhost:5000/sbs", "image.tag": "main", "image.digest": DIGEST},
        ),
    ],
)
def test_deploy_verifies_the_signature_then_installs_waits_and_tests(
    fake_tools: Path, image_ref: str, expected: dict[str, str]
) -> None:
    result, calls = deploy(fake_tools, image_ref)
    assert result.returncode == 0, result.stderr
    chart = str(fake_tools / "chart")
    verify, dependency, upgrade_call, helm_test = calls
    assert verify.split() == [
        "cosign",
        "verify",
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
        f"{expected['image.repository']}@{DIGEST}",
    ]
    assert dependency == f"helm dependency build {chart}"
    upgrade = upgrade_call.split()
    assert upgrade[:5] == ["helm", "upgrade", "--install", "sbs", chart]
    for flag in ("--create-namespace", "--wait", "--rollback-on-failure"):
        assert flag in upgrade
    assert upgrade[upgrade.index("--namespace") + 1] == "sbs-test"
    assert upgrade[upgrade.index("--timeout") + 1] == "10m"
    values = dict(
        upgrade[i + 1].split("=", 1) for i, arg in enumerate(upgrade) if arg == "--set-string"
    )
    assert values == expected
    assert helm_test.split() == [
        "helm", "test", "sbs", "--namespace", "sbs-test", "--timeout", "10m", "--logs",
    ]  # fmt: skip


def test_deploy_refuses_a_digest_without_a_valid_signature(fake_tools: Path) -> None:
    result, calls = deploy(fake_tools, f"ghcr.io/acme/sbs@{DIGEST}", COSIGN_FAKE_FAIL="1")
    assert result.returncode == 2
    assert "not deploying" in result.stderr
    assert [call.split()[0] for call in calls] == ["cosign"], "no helm call after a failed verify"


def test_deploy_needs_the_signer_identity(fake_tools: Path) -> None:
    result, calls = deploy(fake_tools, f"ghcr.io/acme/sbs@{DIGEST}", COSIGN_CERTIFICATE_IDENTITY="")
    assert result.returncode == 2
    assert "COSIGN_CERTIFICATE_IDENTITY" in result.stderr
    assert calls == []


def test_deploy_honours_its_environment_and_helm_3(fake_tools: Path) -> None:
    (fake_tools / "values-test.yaml").write_text("replicaCount: 1\n")
    result, calls = deploy(
        fake_tools,
        f"ghcr.io/acme/sbs:2@{DIGEST}",
        NAMESPACE="qa",
        RELEASE="sbs-qa",
        HELM_TIMEOUT="3m",
        VALUES_FILE="values-test.yaml",
        HELM_FAKE_VERSION="v3.21.4",
        COSIGN_CERTIFICATE_OIDC_ISSUER="https://issuer.example",
    )
    assert result.returncode == 0, result.stderr
    assert "--certificate-oidc-issuer https://issuer.example " in calls[0]
    upgrade = calls[2].split()
    assert upgrade[3] == "sbs-qa"
    assert upgrade[upgrade.index("--namespace") + 1] == "qa"
    assert upgrade[upgrade.index("--timeout") + 1] == "3m"
    assert upgrade[upgrade.index("--values") + 1] == str(fake_tools / "values-test.yaml")
    assert "--atomic" in upgrade
    assert "--rollback-on-failure" not in upgrade
    assert calls[3].startswith("helm test sbs-qa --namespace qa --timeout 3m")


@pytest.mark.parametrize(
    ("image_ref", "message"),
    [
        ("ghcr.io/acme/sbs", "no digest"),
        ("ghcr.io/acme/sbs:1.0.0", "no digest"),
        ("ghcr.io/acme/sbs@sha256:123", "invalid digest"),
        (f"ghcr.io/Acme/sbs:1.0@{DIGEST}", "invalid repository"),
        (f"ghcr.io/acme/sbs:bad/tag@{DIGEST}", "invalid"),
    ],
)
def test_deploy_rejects_unpinned_or_malformed_references(
    fake_tools: Path, image_ref: str, message: str
) -> None:
    result, calls = deploy(fake_tools, image_ref)
    assert result.returncode == 2
    assert message in result.stderr
    assert calls == []


def test_deploy_rejects_a_missing_values_file(fake_tools: Path) -> None:
    result, calls = deploy(fake_tools, f"ghcr.io/acme/sbs@{DIGEST}", VALUES_FILE="nowhere.yaml")
    assert result.returncode == 2
    assert "nowhere.yaml" in result.stderr
    assert calls == []


# ---- GitHub Actions ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CI_WORKFLOW.read_text())
    return loaded


def steps_of(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return steps


def step_using(workflow: dict[str, Any], job: str, action: str) -> dict[str, Any]:
    matches = [s for s in steps_of(workflow, job) if s.get("uses", "").startswith(action + "@")]
    assert matches, f"{job} does not use {action}"
    return matches[0]


def test_workflows_match_the_github_schema() -> None:
    files = sorted(WORKFLOW_DIR.glob("*.y*ml"))
    assert CI_WORKFLOW in files
    result = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        env=unmeasured_environment(),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_does_reject_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    result = run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)],
        env=unmeasured_environment(),
    )
    assert result.returncode != 0


def zizmor_findings(target: Path) -> list[dict[str, Any]]:
    result = run(
        [tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json", str(target)]
    )
    assert result.stdout.strip().startswith("["), result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def test_zizmor_finds_nothing_of_medium_or_high_severity() -> None:
    serious = [
        (finding["ident"], finding["determinations"]["severity"])
        for finding in zizmor_findings(WORKFLOW_DIR)
        if finding["determinations"]["severity"] in {"Medium", "High"}
    ]
    assert serious == []


def test_zizmor_does_flag_an_unsafe_workflow(tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe.yml"
    unsafe.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        '    steps:\n      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    idents = {finding["ident"] for finding in zizmor_findings(unsafe)}
    assert "template-injection" in idents


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    uses_lines = [line.strip() for line in CI_WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert uses_lines
    for line in uses_lines:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), (
            f"not pinned to a SHA with a version comment: {line}"
        )


def test_runs_are_bounded_and_credentials_not_persisted(workflow: dict[str, Any]) -> None:
    assert workflow["concurrency"]["group"]
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, name
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            # Expressions go through env:, never straight into a shell script.
            assert "${{" not in step.get("run", ""), f"{name}: {step.get('name')}"


def test_triggers_are_pushes_to_main_and_pull_requests(workflow: dict[str, Any]) -> None:
    document: dict[Any, Any] = workflow
    triggers: dict[str, Any] = document[
        "on" if "on" in document else True
    ]  # YAML 1.1: `on` is True
    assert triggers["push"]["branches"] == ["main"]
    assert "pull_request" in triggers
    assert "pull_request_target" not in triggers


TRUSTED = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
IMAGE_REF = "${{ steps.reference.outputs.image }}"


def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(action + "@")


def workflow_problems(workflow: dict[str, Any]) -> list[str]:
    """What breaks the issue's rules: PR code without write/OIDC power, lint and the tests run,
    one build whose pushed digest is what the SBOM describes, Trivy scans, cosign signs, the
    tags point at and deploy-test deploys."""
    problems: list[str] = []
    jobs: dict[str, Any] = workflow["jobs"]
    if workflow.get("permissions") != {}:
        problems.append("top-level permissions are not {}")

    test = jobs.get("test", {})
    if test.get("permissions") != {"contents": "read"}:
        problems.append(f"test job permissions {test.get('permissions')}")
    if "if" in test:
        problems.append("the test job must run on pull requests too")
    test_runs = [str(step.get("run", "")).strip() for step in test.get("steps", [])]
    for command in ("make lint", ".ci/run"):
        if command not in test_runs:
            problems.append(f"test job does not run {command}")

    for name, job in jobs.items():
        granted = job.get("permissions", {})
        if name != "image" and any(level == "write" for level in granted.values()):
            problems.append(f"{name} holds write permissions {granted}")

    builds = [
        (name, step)
        for name, job in jobs.items()
        for step in job.get("steps", [])
        if uses(step, "docker/build-push-action")
        or re.search(r"\b(docker|podman|buildah) (buildx )?(build|bud)\b", str(step.get("run", "")))
    ]
    if len(builds) != 1 or builds[0][0] != "image":
        problems.append(f"expected one build, in the image job: {[name for name, _ in builds]}")
        return problems
    image = jobs["image"]
    steps: list[dict[str, Any]] = image["steps"]
    build = builds[0][1]
    if image.get("if") != TRUSTED or image.get("needs") != "test":
        problems.append("the image job must need the tests and run on pushes to main only")
    if image.get("permissions") != {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
    }:
        problems.append(f"image job permissions {image.get('permissions')}")
    if build.get("with", {}).get("push") is not True or build.get("id") != "build":
        problems.append("the build must push (id: build)")
    if "load" in build.get("with", {}):
        problems.append("a loaded local copy is not the pushed digest")
    (reference,) = [step for step in steps if step.get("id") == "reference"] or [{}]
    if reference.get("env", {}).get("DIGEST") != "${{ steps.build.outputs.digest }}" or (
        "@${DIGEST}" not in str(reference.get("run", ""))
    ):
        problems.append("the recorded reference is not repository@<the build's digest>")

    def first(predicate: Any, what: str) -> int:
        indexes = [index for index, step in enumerate(steps) if predicate(step)]
        if not indexes:
            problems.append(f"no step that {what}")
            return -1
        return indexes[0]

    sbom = first(lambda st: uses(st, "anchore/sbom-action"), "makes the SBOM")
    scan = first(lambda st: uses(st, "aquasecurity/trivy-action"), "scans with Trivy")
    sign = first(lambda st: "cosign sign" in str(st.get("run", "")), "signs")
    tag = first(lambda st: "imagetools create" in str(st.get("run", "")), "tags the digest")
    if -1 in (sbom, scan, sign, tag):
        return problems
    if steps[sbom]["with"].get("image") != IMAGE_REF:
        problems.append("the SBOM describes another image")
    trivy = steps[scan]["with"]
    if trivy.get("image-ref") != IMAGE_REF:
        problems.append("Trivy scans another image")
    if trivy.get("exit-code") != "1" or "CRITICAL" not in str(trivy.get("severity")):
        problems.append("Trivy findings do not fail the job")
    if steps[sign].get("env", {}).get("IMAGE") != IMAGE_REF:
        problems.append("cosign signs another image")
    if steps[tag].get("env", {}).get("IMAGE") != IMAGE_REF:
        problems.append("the tags point at another image")
    if not build.get("id") or not scan < sign < tag or not sbom < sign:
        problems.append("order must be build, SBOM and scan, sign, then tag")
    if image.get("outputs", {}).get("image") != IMAGE_REF:
        problems.append("the image job does not output the signed digest")

    deploy_job = jobs.get("deploy-test", {})
    (deployment,) = [
        st for st in deploy_job.get("steps", []) if "deploy_test.sh" in str(st.get("run", ""))
    ] or [{}]
    deploy_env = deployment.get("env", {})
    if deploy_job.get("needs") != "image" or deploy_env.get("IMAGE_REF") != (
        "${{ needs.image.outputs.image }}"
    ):
        problems.append("deploy-test does not deploy the image job's digest")
    if not str(deploy_env.get("COSIGN_CERTIFICATE_IDENTITY", "")).endswith(
        "/.github/workflows/ci.yml@refs/heads/main"
    ):
        problems.append("deploy-test does not say whose signature to verify")
    return problems


def test_workflow_keeps_pull_requests_powerless_and_ships_one_scanned_signed_digest(
    workflow: dict[str, Any],
) -> None:
    assert workflow_problems(workflow) == []


def _mutate(workflow: dict[str, Any], change: Any) -> dict[str, Any]:
    mutated: dict[str, Any] = yaml.safe_load(yaml.safe_dump(workflow))
    change(mutated)
    return mutated


def _second_build(workflow: dict[str, Any]) -> None:
    steps = workflow["jobs"]["image"]["steps"]
    build = next(step for step in steps if uses(step, "docker/build-push-action"))
    steps.append({**build, "id": "push-again"})


def _scan_the_tag(workflow: dict[str, Any]) -> None:
    steps = workflow["jobs"]["image"]["steps"]
    trivy = next(step for step in steps if uses(step, "aquasecurity/trivy-action"))
    trivy["with"]["image-ref"] = "ghcr.io/acme/sbs:latest"


def _sign_before_scan(workflow: dict[str, Any]) -> None:
    steps = workflow["jobs"]["image"]["steps"]
    sign = next(step for step in steps if "cosign sign" in str(step.get("run", "")))
    steps.remove(sign)
    steps.insert(2, sign)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda w: w["jobs"]["test"]["permissions"].update(packages="write"), "test job"),
        (lambda w: w["jobs"]["test"]["permissions"].update({"id-token": "write"}), "test job"),
        (lambda w: w["jobs"]["test"].update({"if": TRUSTED}), "pull requests"),
        (lambda w: w["jobs"]["test"]["steps"].pop(2), "make lint"),
        (_second_build, "one build"),
        (_scan_the_tag, "Trivy scans another image"),
        (_sign_before_scan, "order"),
        (lambda w: w["jobs"]["image"].pop("if"), "pushes to main only"),
        (lambda w: w["jobs"]["deploy-test"].update(permissions={"packages": "write"}), "write"),
    ],
    ids=[
        "test-packages-write",
        "test-id-token",
        "test-not-on-prs",
        "no-lint",
        "second-build",
        "scan-a-tag",
        "sign-before-scan",
        "image-on-prs",
        "deploy-writes",
    ],
)
def test_workflow_check_catches_each_broken_rule(
    workflow: dict[str, Any], change: Any, problem: str
) -> None:
    problems = workflow_problems(_mutate(workflow, change))
    assert any(problem in found for found in problems), problems


def test_test_job_installs_and_runs_what_the_laptop_does(workflow: dict[str, Any]) -> None:
    setup_python = step_using(workflow, "test", "actions/setup-python")
    assert setup_python["with"]["python-version"] == "3.12"
    ci_run = (REPO_ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip() for line in ci_run.splitlines() if line.strip() and not line.startswith("#")
    ]
    # Nothing the tests need lives only in .ci/run: it is the developer's two commands.
    assert commands[-2:] == ["make lint", "make test"], "a clean clone's CI run must lint too"
    assert not [command for command in commands if "apt-get" in command or "install" in command]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^test: test-packages setup-dev ", makefile, re.MULTILINE)
    assert re.search(r"^test-packages:.*\n\t@scripts/install_test_packages.sh$", makefile, re.M)


def test_build_uses_the_cache_and_records_the_commit(workflow: dict[str, Any]) -> None:
    build = step_using(workflow, "image", "docker/build-push-action")
    assert build["with"]["build-args"] == "APP_BUILD=${{ github.sha }}"
    assert build["with"]["cache-from"] == "type=gha"
    assert build["with"]["cache-to"].startswith("type=gha")
    meta = step_using(workflow, "image", "docker/metadata-action")
    assert build["with"]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert meta["with"]["tags"].split() == ["type=sha,format=long"], "only the immutable tag"
    login = step_using(workflow, "image", "docker/login-action")
    assert login["with"]["registry"] == "ghcr.io"
    sbom = step_using(workflow, "image", "anchore/sbom-action")
    assert sbom["with"]["format"] == "spdx-json"
    upload = step_using(workflow, "image", "actions/upload-artifact")
    assert upload["with"]["path"] == sbom["with"]["output-file"]
    (signing,) = [s for s in steps_of(workflow, "image") if "cosign sign" in s.get("run", "")]
    assert "cosign sign --yes" in signing["run"]
    assert f"--type spdxjson --predicate {sbom['with']['output-file']}" in signing["run"]


def test_deploy_test_runs_only_on_main_when_the_cluster_secret_exists(
    workflow: dict[str, Any],
) -> None:
    job = workflow["jobs"]["deploy-test"]
    assert job["needs"] == "image"
    assert job["if"] == TRUSTED
    assert job["permissions"] == {"contents": "read"}
    gate, *rest = job["steps"]
    assert gate["env"]["KUBE_CONFIG"] == "${{ secrets.KUBE_CONFIG }}"
    assert "GITHUB_OUTPUT" in gate["run"]
    for step in rest:
        assert f"steps.{gate['id']}.outputs.enabled == 'true'" in step["if"], step["name"]
    step_using(workflow, "deploy-test", "azure/setup-helm")
    step_using(workflow, "deploy-test", "sigstore/cosign-installer")
    (deployment,) = [s for s in rest if "deploy_test.sh" in s.get("run", "")]
    assert deployment["run"] == 'scripts/deploy_test.sh "${IMAGE_REF}"'
    assert deployment["env"]["KUBECONFIG"].startswith("${{ runner.temp }}")
