"""The Ansible delivery in infrastructure/ansible is valid, lint-clean and consistent with the app.

Proves: `ansible-playbook --syntax-check` passes with the example inventory; ansible-lint's
production profile reports nothing; every variable a role uses is defined in its defaults or
the example inventory (and every default is used); templates render with those values; the
service roles refuse placeholder secrets and unpinned images but accept real ones (they then
stop at the first Docker call, as no Docker engine runs here); the API/worker containers get
exactly the app's settings with the app's defaults; images match docker-compose.yml.
"""

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import pytest
import yaml

from app.config import Settings
from tests.deploy.artifact_checks import ansible_environment

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "infrastructure" / "ansible"
ROLES = ("common", "docker", "postgresql", "redis", "nats", "temporal", "sbs_api")
INVENTORY = ANSIBLE / "inventories" / "test" / "hosts.yml"
GROUP_VARS = ANSIBLE / "inventories" / "test" / "group_vars" / "all.yml"
BIN = Path(sys.executable).parent

# Facts, magic variables and Jinja/Ansible globals: provided by Ansible, never by us.
PROVIDED_BY_ANSIBLE = {
    "ansible_facts",
    "ansible_managed",
    "ansible_check_mode",
    "ansible_loop",
    "ansible_play_hosts",
    "groups",
    "group_names",
    "hostvars",
    "inventory_hostname",
    "omit",
    "playbook_dir",
    "role_path",
    "lookup",
    "query",
    "q",
    "now",
    "undef",
    "range",
    "dict",
    "namespace",
}
# Keys whose values are bare Jinja expressions rather than templated strings.
EXPRESSION_KEYS = {"when", "changed_when", "failed_when", "until", "that"}


class AnyName(dict[str, Any]):
    """Filter/test table that knows every name, so Ansible's filters parse without Ansible."""

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> Any:
        return lambda *args, **kwargs: None

    def get(self, name: str, default: Any = None) -> Any:
        return self[name]


JINJA = jinja2.Environment(autoescape=False)  # noqa: S701 - nothing is rendered to HTML
INTROSPECTION = jinja2.Environment(autoescape=False)  # noqa: S701 - parsing only
INTROSPECTION.filters = AnyName(INTROSPECTION.filters)
INTROSPECTION.tests = AnyName(INTROSPECTION.tests)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def role_file(role: str, *parts: str) -> Path:
    return ANSIBLE / "roles" / role / Path(*parts)


def role_defaults(role: str) -> dict[str, Any]:
    path = role_file(role, "defaults", "main.yml")
    return (load_yaml(path) or {}) if path.is_file() else {}


def inventory_variables() -> set[str]:
    names = set(load_yaml(GROUP_VARS) or {})

    def collect(group: dict[str, Any]) -> None:
        names.update((group.get("vars") or {}).keys())
        for host_vars in (group.get("hosts") or {}).values():
            names.update((host_vars or {}).keys())
        for child in (group.get("children") or {}).values():
            collect(child or {})

    collect(load_yaml(INVENTORY)["all"])
    return names


def template_variables(source: str) -> set[str]:
    return set(jinja2.meta.find_undeclared_variables(INTROSPECTION.parse(source)))


def used_in(node: Any, key: str | None = None) -> Iterator[str]:
    """Names a YAML structure reads: from {{ }} in strings and from bare expressions."""
    if isinstance(node, dict):
        for child_key, value in node.items():
            yield from used_in(value, str(child_key))
    elif isinstance(node, list):
        for item in node:
            yield from used_in(item, key)
    elif isinstance(node, str):
        if key in EXPRESSION_KEYS and "{{" not in node:
            yield from template_variables("{{ " + node + " }}")
        elif "{{" in node or "{%" in node:
            yield from template_variables(node)


def task_files(role: str) -> list[Path]:
    return [
        path
        for folder in ("tasks", "handlers")
        for path in sorted(role_file(role, folder).glob("*.yml"))
    ]


def defined_by_tasks(tasks: list[dict[str, Any]]) -> set[str]:
    """Registered results, set_fact names and loop variables a task list defines itself."""
    names: set[str] = set()
    for task in tasks:
        if "register" in task:
            names.add(task["register"])
        if "ansible.builtin.set_fact" in task:
            names.update(task["ansible.builtin.set_fact"])
        if "loop" in task or any(key.startswith("with_") for key in task):
            names.add((task.get("loop_control") or {}).get("loop_var", "item"))
        for block_key in ("block", "rescue", "always"):
            names |= defined_by_tasks(task.get(block_key) or [])
    return names


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ANSIBLE,
        env=ansible_environment(ANSIBLE, env),
    )


@pytest.fixture(scope="module", autouse=True)
def ansible_lint() -> Iterator[subprocess.Popen[str]]:
    """ansible-lint is the slowest check: start it first, let the other tests run meanwhile."""
    process = subprocess.Popen(
        [str(BIN / "ansible-lint"), "--offline", "--nocolor", "--profile", "production"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ANSIBLE,
        env=ansible_environment(ANSIBLE, {"ANSIBLE_LINT_NODEPS": "1"}),
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


# --- Layout, syntax and lint ---------------------------------------------------------------


def test_site_applies_the_seven_roles_in_dependency_order() -> None:
    plays = load_yaml(ANSIBLE / "site.yml")
    roles = [
        entry["role"] if isinstance(entry, dict) else entry
        for play in plays
        for entry in play.get("roles", [])
    ]
    assert roles == list(ROLES)
    for role in ROLES:
        assert role_file(role, "tasks", "main.yml").is_file(), f"{role} has no tasks/main.yml"
        meta = load_yaml(role_file(role, "meta", "main.yml"))
        assert meta["galaxy_info"]["description"], f"{role} meta has no description"


def test_playbook_syntax_check_passes_with_the_example_inventory() -> None:
    result = run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(INVENTORY), "site.yml"]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_inventory_puts_a_host_in_the_sbs_group() -> None:
    result = run([str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"])
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    hosts = inventory["sbs"]["hosts"]
    assert hosts, "group sbs has no hosts"
    variables = inventory["_meta"]["hostvars"][hosts[0]]
    assert variables["sbs_docker_network"]
    assert variables["sbs_image"].startswith("ghcr.io/")


# --- Variables -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_a_role_uses_is_defined(role: str) -> None:
    defaults = role_defaults(role)
    available = set(defaults) | inventory_variables() | PROVIDED_BY_ANSIBLE
    used: set[str] = set()
    for path in task_files(role):
        tasks = load_yaml(path) or []
        available |= defined_by_tasks(tasks)
        used |= set(used_in(tasks))
    used |= set(used_in(defaults))
    for template in sorted(role_file(role, "templates").glob("*.j2")):
        used |= template_variables(template.read_text(encoding="utf-8"))
    assert used, f"no variable use found in {role}; the scan is broken"
    undefined = used - available
    assert not undefined, f"{role} uses variables defined nowhere: {sorted(undefined)}"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_default_is_used(role: str) -> None:
    used: set[str] = set()
    for path in task_files(role):
        used |= set(used_in(load_yaml(path) or []))
    used |= set(used_in(role_defaults(role)))
    for template in role_file(role, "templates").glob("*.j2"):
        used |= template_variables(template.read_text(encoding="utf-8"))
    unused = set(role_defaults(role)) - used
    assert not unused, f"{role} defines defaults nothing reads: {sorted(unused)}"


def test_inventory_variables_reference_only_inventory_variables() -> None:
    group_vars = load_yaml(GROUP_VARS)
    undefined = set(used_in(group_vars)) - inventory_variables() - PROVIDED_BY_ANSIBLE
    assert not undefined, f"group_vars reference undefined variables: {sorted(undefined)}"


def test_secrets_have_no_real_default() -> None:
    for role in ROLES:
        for name, value in role_defaults(role).items():
            if "password" in name or name.endswith("_token"):
                assert value == "", f"{role} default {name} must be empty, not a secret"
    group_vars = load_yaml(GROUP_VARS)
    vault = {name: value for name, value in group_vars.items() if name.startswith("vault_")}
    assert vault, "group_vars defines no vault_ placeholders"
    for name, value in vault.items():
        assert value == "" or "CHANGE_ME" in value, f"{name} must be an obvious placeholder"
    for name, value in group_vars.items():
        if ("password" in name or name.endswith("_token")) and not name.startswith("vault_"):
            assert value.startswith("{{ vault_"), f"{name} must come from a vault_ variable"


# --- Behaviour: templates render, secrets are checked -------------------------------------------


def test_templates_render_with_defaults_and_inventory(tmp_path: Path) -> None:
    plays = []
    for role in ROLES:
        templates = sorted(role_file(role, "templates").glob("*.j2"))
        if not templates:
            continue
        plays.append(
            {
                "name": f"Render the templates of {role}",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "vars_files": [str(role_file(role, "defaults", "main.yml")), str(GROUP_VARS)],
                "tasks": [
                    {
                        "name": f"Render {template.name}",
                        "ansible.builtin.template": {
                            "src": str(template),
                            "dest": str(tmp_path / role / template.name.removesuffix(".j2")),
                            "mode": "0644",
                        },
                    }
                    for template in templates
                ],
            }
        )
        (tmp_path / role).mkdir()
    playbook = tmp_path / "render.yml"
    playbook.write_text(yaml.safe_dump(plays), encoding="utf-8")
    result = run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)])
    assert result.returncode == 0, result.stdout + result.stderr

    daemon = json.loads((tmp_path / "docker" / "daemon.json").read_text(encoding="utf-8"))
    assert daemon["log-opts"]["max-size"] == "10m"
    assert daemon["live-restore"] is True
    nats = (tmp_path / "nats" / "nats-server.conf").read_text(encoding="utf-8")
    assert 'store_dir: "/data"' in nats
    assert "http_port: 8222" in nats
    schema = (tmp_path / "temporal" / "setup-schema.sh").read_text(encoding="utf-8")
    assert 'prepare "temporal" ' in schema
    assert 'prepare "temporal_visibility" ' in schema
    namespace = (tmp_path / "temporal" / "create-namespace.sh").read_text(encoding="utf-8")
    assert 'namespace="default"' in namespace
    upgrades = (tmp_path / "common" / "20auto-upgrades").read_text(encoding="utf-8")
    assert 'Unattended-Upgrade "1";' in upgrades


REAL_SECRETS = {
    "sbs_image": "ghcr.io/sbs-platform/sbs-platform:sha-0123456789abcdef",
    "vault_postgresql_password": "a-real-password-for-tests",
    "vault_sbs_api_token": "a-real-api-token-long-enough-for-tests",
    "vault_redis_password": "a-real-redis/password",
}


def apply_role(role: str, tmp_path: Path, extra_vars: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one role against localhost; return each task's result in order."""
    playbook = tmp_path / "apply.yml"
    play = {
        "name": f"Apply {role}",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(GROUP_VARS)],
        "roles": [{"role": role}],
    }
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    variables = {
        "sbs_no_log": False,
        "temporal_config_dir": str(tmp_path / "temporal"),
        "redis_config_dir": str(tmp_path / "redis"),
    }
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            str(playbook),
            "--extra-vars",
            json.dumps(variables | extra_vars),
        ],
        env={
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
        },
    )
    report = json.loads(result.stdout)
    return [
        {"name": task["task"]["name"], **outcome}
        for play_report in report["plays"]
        for task in play_report["tasks"]
        for outcome in task["hosts"].values()
    ]


SERVICE_ROLES_WITH_SECRETS = ("postgresql", "redis", "temporal", "sbs_api")


@pytest.mark.parametrize("role", SERVICE_ROLES_WITH_SECRETS)
def test_roles_refuse_the_example_placeholders(role: str, tmp_path: Path) -> None:
    results = apply_role(role, tmp_path, {})
    failed = [result for result in results if result.get("failed")]
    assert len(failed) == 1, results
    assert failed[0]["action"] == "ansible.builtin.assert"
    assert "ansible-vault" in failed[0]["msg"]


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/sbs-platform/sbs-platform:latest", "ghcr.io/sbs-platform/sbs-platform"],
)
def test_sbs_api_refuses_an_unpinned_image(image: str, tmp_path: Path) -> None:
    results = apply_role("sbs_api", tmp_path, REAL_SECRETS | {"sbs_image": image})
    failed = [result for result in results if result.get("failed")]
    assert [result["action"] for result in failed] == ["ansible.builtin.assert"]


@pytest.mark.parametrize("role", SERVICE_ROLES_WITH_SECRETS)
def test_roles_accept_real_secrets_and_reach_docker(role: str, tmp_path: Path) -> None:
    results = apply_role(role, tmp_path, REAL_SECRETS)
    checks = [result for result in results if result["action"] == "ansible.builtin.assert"]
    assert checks, "the role checks nothing"
    assert not any(check.get("failed") for check in checks), checks
    failed = [result for result in results if result.get("failed")]
    # No Docker engine here: the first Docker call must be what stops the role.
    assert len(failed) == 1, results
    assert failed[0]["action"].startswith("community.docker."), failed[0]
    messages = [failed[0]["msg"]] + [item.get("msg", "") for item in failed[0].get("results", [])]
    assert any("Error connecting" in message for message in messages), messages


# --- Consistency with the app and with docker-compose.yml -----------------------------------


def render_environment(name: str) -> dict[str, str]:
    """Render one of sbs_api's environment dictionaries with the role defaults."""
    defaults = role_defaults("sbs_api")
    return {
        key: JINJA.from_string(str(value)).render(defaults) for key, value in defaults[name].items()
    }


def settings_defaults() -> dict[str, Any]:
    return {
        (field.alias or name).upper(): field.default
        for name, field in Settings.model_fields.items()
    }


def test_api_and_worker_get_the_app_settings_with_the_app_defaults() -> None:
    known = settings_defaults()
    common = render_environment("sbs_api_common_environment")
    api = common | render_environment("sbs_api_api_environment")
    worker = common | render_environment("sbs_api_worker_environment")
    for environment in (api, worker):
        unknown = set(environment) - known.keys()
        assert not unknown, f"variables the app does not read: {sorted(unknown)}"
    for name, value in (api | worker).items():
        default = known[name]
        if name in {"DATABASE_PASSWORD", "SBS_API_TOKEN", "OTEL_SERVICE_NAME", "REDIS_URL"}:
            continue
        if isinstance(default, float):
            assert float(value) == default, name
        elif isinstance(default, bool):
            assert value == str(default).lower(), f"{name}: role default {value!r}, app {default!r}"
        elif default is None:  # optional: empty means unset
            assert value == "", f"{name}: role default {value!r}, app unset"
        else:
            assert value == str(default), f"{name}: role default {value!r}, app {default!r}"
    assert api["OTEL_SERVICE_NAME"] == "sbs-api"
    assert worker["OTEL_SERVICE_NAME"] == "sbs-worker"
    assert "SBS_API_TOKEN" in api
    assert "SBS_API_TOKEN" not in worker, "the worker needs no API token"
    for required in ("DATABASE_PASSWORD", "TEMPORAL_HOST", "REDIS_URL", "NATS_URL"):
        assert required in common


def compose_file() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(ROOT / "docker-compose.yml")
    return document


def test_containers_get_every_variable_compose_sets() -> None:
    services = compose_file()["services"]
    common = set(role_defaults("sbs_api")["sbs_api_common_environment"])
    api = common | set(role_defaults("sbs_api")["sbs_api_api_environment"])
    worker = common | set(role_defaults("sbs_api")["sbs_api_worker_environment"])
    assert set(services["api"]["environment"]) <= api
    assert set(services["worker"]["environment"]) <= worker


def test_service_images_are_pinned_and_match_compose() -> None:
    compose_images = {
        service["image"].rsplit(":", 1)[0]: service["image"]
        for service in compose_file()["services"].values()
        if "image" in service and "${" not in service["image"]
    }
    checked = 0
    for role in ROLES:
        for name, image in role_defaults(role).items():
            if not name.endswith("_image"):
                continue
            repository, _, tag = image.rpartition(":")
            assert repository, f"{role}.{name} has no tag: {image}"
            assert tag != "latest", f"{role}.{name} uses latest"
            assert any(character.isdigit() for character in tag), f"{role}.{name}: pin a version"
            if repository in compose_images:
                assert image == compose_images[repository], f"{role}.{name} differs from compose"
                checked += 1
    assert checked >= 5, "expected postgres, redis, nats and the temporal images in compose"


def test_redis_evicts_only_expiring_keys_within_its_fork_headroom() -> None:
    defaults = role_defaults("redis")
    assert defaults["redis_maxmemory_policy"] == "volatile-ttl"
    units = {"mb": 1024**2, "m": 1024**2, "gb": 1024**3, "g": 1024**3}

    def size(text: str) -> int:
        number = text.rstrip("bgmkBGMK")
        return int(number) * units[text[len(number) :].lower()]

    # The RDB save (--save) forks: the limit must hold the data twice plus the process.
    assert size(defaults["redis_memory"]) >= 2 * size(defaults["redis_maxmemory"]) + 64 * 1024**2
    (task,) = [
        task
        for task in load_yaml(role_file("redis", "tasks", "main.yml"))
        if "community.docker.docker_container" in task
    ]
    container = task["community.docker.docker_container"]
    command = container["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "{{ redis_maxmemory_policy }}"
    assert container["memory"] == "{{ redis_memory }}"


def test_service_containers_join_the_platform_network() -> None:
    containers = 0
    for role in ROLES:
        for path in task_files(role):
            for task in load_yaml(path) or []:
                container = task.get("community.docker.docker_container")
                if not container or container.get("state") == "absent" or "image" not in container:
                    continue
                containers += 1
                networks = [network["name"] for network in container.get("networks", [])]
                assert networks == ["{{ sbs_docker_network }}"], task["name"]
    assert containers >= 9


# --- Lint (last, so the background run has had time) -----------------------------------------


def test_ansible_lint_production_profile_reports_nothing(
    ansible_lint: subprocess.Popen[str],
) -> None:
    output, _ = ansible_lint.communicate(timeout=300)
    assert ansible_lint.returncode == 0, output
    assert "0 failure(s), 0 warning(s)" in output, output
    assert "Profile 'production' was required, and it passed" in output, output


def test_somaxconn_is_only_ever_raised(tmp_path: Path) -> None:
    """The raise task keeps a host's higher value and lifts a lower one (rendered by Ansible)."""
    assert "net.core.somaxconn" not in role_defaults("common")["common_sysctl"]
    assert role_defaults("common")["common_sysctl_minimums"]["net.core.somaxconn"] >= 4096
    tasks = load_yaml(role_file("common", "tasks", "main.yml"))
    (raise_task,) = [task for task in tasks if task["name"].startswith("Raise kernel settings")]
    expression = raise_task["ansible.posix.sysctl"]["value"]
    playbook = tmp_path / "max.yml"
    play = {
        "name": "Evaluate the raise expression",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [
            {
                "name": f"Current {current}",
                "ansible.builtin.debug": {"msg": expression},
                "vars": {
                    "item": {
                        "content": base64.b64encode(f"{current}\n".encode()).decode(),
                        "item": {"key": "net.core.somaxconn", "value": 4096},
                    }
                },
            }
            for current in (128, 4096, 65535)
        ],
    }
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    result = run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    values = [
        int(outcome["msg"])
        for task in report["plays"][0]["tasks"]
        for outcome in task["hosts"].values()
    ]
    assert values == [4096, 4096, 65535]


def test_redis_requires_a_password_that_the_app_url_carries() -> None:
    tasks = load_yaml(role_file("redis", "tasks", "main.yml"))
    (run_task,) = [task for task in tasks if "community.docker.docker_container" in task]
    container = run_task["community.docker.docker_container"]
    # Neither in the arguments nor in the environment: in a file the redis user reads.
    assert "redis_password" not in json.dumps(container["command"])
    assert "env" not in container
    assert container["restart"] == "{{ redis_config.changed }}"
    mounted = [volume.split(":")[1] for volume in container["volumes"]]
    assert container["command"][1] in mounted
    assert "REDISCLI_AUTH" in container["healthcheck"]["test"][1]
    (template_task,) = [task for task in tasks if task.get("register") == "redis_config"]
    assert template_task["ansible.builtin.template"]["mode"] == "0640"
    config = (role_file("redis", "templates", "redis.conf.j2")).read_text(encoding="utf-8")
    assert 'requirepass "{{ redis_password }}"' in config
    group_vars = load_yaml(GROUP_VARS)
    assert group_vars["redis_password"] == group_vars["sbs_api_redis_password"]
    assert group_vars["redis_password"] == "{{ vault_redis_password }}"
    # The URL carries the password percent-encoded, so / @ : in it cannot break it.
    defaults = role_defaults("sbs_api")
    url = JINJA.from_string(defaults["sbs_api_redis_url"]).render(sbs_api_redis_password="p/w@x:y")
    assert url == "redis://:p%2Fw%40x%3Ay@redis:6379/0"


def test_a_rotated_postgresql_password_reaches_the_database_first() -> None:
    tasks = load_yaml(role_file("postgresql", "tasks", "main.yml"))
    names = [task["name"] for task in tasks]
    rotate = names.index("Rotate the PostgreSQL password inside the database")
    recreate = names.index("Run PostgreSQL and wait until it accepts connections")
    assert rotate < recreate, "ALTER ROLE must run in the old container, before it is recreated"
    task = tasks[rotate]
    execution = task["community.docker.docker_container_exec"]
    assert "postgresql_password" not in json.dumps(execution["argv"])
    assert execution["stdin"].startswith('ALTER ROLE "{{ postgresql_user }}" PASSWORD')
    assert task["no_log"] == "{{ sbs_no_log }}"
    # Only when the running container still has another password.
    condition = " ".join(task["when"])
    assert "postgresql_existing.exists" in condition
    assert "not in postgresql_existing.container.Config.Env" in condition
    # The statement is valid SQL for a password with a quote in it (PostgreSQL's own rule).
    statement = JINJA.from_string(execution["stdin"]).render(
        postgresql_user="postgres", postgresql_password="it's-a-secret"
    )
    assert statement == "ALTER ROLE \"postgres\" PASSWORD 'it''s-a-secret';"


def test_hosts_are_reached_through_ssm_as_terraform_wires_them() -> None:
    """No SSH port exists on the VMs: SSM with Terraform's transfer bucket, nothing else."""
    group = load_yaml(INVENTORY)["all"]["children"]["sbs"]
    assert group["vars"]["ansible_connection"] == "amazon.aws.aws_ssm"
    for host in group["hosts"].values():
        assert host["ansible_aws_ssm_instance_id"].startswith("i-")
        assert "ansible_host" not in host
    terraform = ROOT / "infrastructure" / "terraform"
    outputs = (terraform / "environments" / "test" / "outputs.tf").read_text(encoding="utf-8")
    assert 'output "ansible_ssm_bucket_name"' in outputs
    assert "aws_s3_bucket.ansible_ssm.id" in outputs
    vm = (terraform / "modules" / "virtual_machine" / "main.tf").read_text(encoding="utf-8")
    assert "AmazonSSMManagedInstanceCore" in vm
    import importlib.util

    assert importlib.util.find_spec("ansible_collections.amazon.aws.plugins.connection.aws_ssm")
    collections = {
        entry["name"] for entry in load_yaml(ANSIBLE / "requirements.yml")["collections"]
    }
    assert "amazon.aws" in collections
