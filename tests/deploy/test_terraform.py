"""Terraform in infrastructure/terraform parses, keeps its module contracts and passes checkov.

No terraform binary or cloud is reachable here, so this module does what `terraform validate`
would catch statically: every file parses as HCL; every module call passes only variables the
module declares and every variable without a default; every `module.X.Y` names a declared
output; every `var.`, `local.`, resource and data reference resolves; variables are typed,
described and validated where constrained; versions are pinned. Then checkov must report no
failed check that is not skipped inline with a reason.
"""

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2.api
import pytest

from tests.tools import unmeasured_environment

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infrastructure" / "terraform"
MODULES = ("network", "kubernetes_cluster", "virtual_machine")
ENVIRONMENTS = ("test",)
MODULE_META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}
ALL_CONTROL_PLANE_LOGS = {"api", "audit", "authenticator", "controllerManager", "scheduler"}

MODULE_DIRS = [TERRAFORM / "modules" / name for name in MODULES]
ENVIRONMENT_DIRS = [TERRAFORM / "environments" / name for name in ENVIRONMENTS]
ALL_DIRS = MODULE_DIRS + ENVIRONMENT_DIRS
HCL_FILES = sorted(
    path
    for pattern in ("*.tf", "*.tf.example", "*.tfvars.example")
    for path in TERRAFORM.rglob(pattern)
    if ".terraform" not in path.parts
)

# Variable names that are constrained values and therefore need a validation block.
CONSTRAINED_VARIABLE = re.compile(
    r"(^name$|_name$|cidr|instance_types?$|_count$|_size|_version$|_days$|_ids?$|^environment$|region)"
)


def ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(TERRAFORM)) for path in paths]


@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = normalize(hcl2.api.load(handle))
    return document


def normalize(node: Any) -> Any:
    """One shape for both parsers that install as `hcl2`: python-hcl2 8 keeps the quotes of
    labels and string literals and adds `__is_block__` markers; bc-python-hcl2 (checkov's)
    does not. Strip quotes and markers."""
    if isinstance(node, dict):
        return {
            unquote(key): normalize(value)
            for key, value in node.items()
            if not key.startswith("__")
        }
    if isinstance(node, list):
        return [normalize(item) for item in node]
    if isinstance(node, str):
        return unquote(node)
    return node


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"')
    return text


def single(value: Any) -> Any:
    """python-hcl2 variants wrap attribute values in a one-element list; unwrap it."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


class Config:
    """The blocks of one Terraform directory (module or environment), merged over its .tf files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = sorted(directory.glob("*.tf"))
        self.variables: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}
        self.modules: dict[str, dict[str, Any]] = {}
        self.locals: set[str] = set()
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.data: set[tuple[str, str]] = set()
        self.terraform_blocks: list[dict[str, Any]] = []
        for path in self.files:
            self._add(parse(path))

    def _add(self, document: dict[str, Any]) -> None:
        for block in document.get("variable", []):
            self.variables.update(block)
        for block in document.get("output", []):
            self.outputs.update(block)
        for block in document.get("module", []):
            self.modules.update(block)
        for block in document.get("locals", []):
            self.locals.update(key for key in block if not key.startswith("__"))
        for block in document.get("resource", []):
            for resource_type, by_name in block.items():
                for name, body in by_name.items():
                    self.resources[(resource_type, name)] = body
        for block in document.get("data", []):
            for data_type, by_name in block.items():
                self.data.update((data_type, name) for name in by_name)
        self.terraform_blocks.extend(document.get("terraform", []))

    def strings(self) -> Iterator[str]:
        for path in self.files:
            yield from walk_strings(parse(path))


@cache
def config(directory: Path) -> Config:
    return Config(directory)


def walk_strings(node: Any) -> Iterator[str]:
    """Every string in a parsed document, dictionary keys included (they may hold expressions)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_strings(item)


def expressions(text: str) -> Iterator[str]:
    """The bodies of `${...}` interpolations in a string, honouring nested braces."""
    start = text.find("${")
    while start != -1:
        depth, index = 0, start + 1
        while index < len(text):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        yield text[start + 2 : index]
        start = text.find("${", index)


def references(directory: Path, pattern: re.Pattern[str]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for text in config(directory).strings():
        for expression in expressions(text):
            found.update(match.groups() for match in pattern.finditer(expression))
    return found


# --- Parsing and structure ------------------------------------------------------------


def test_the_expected_layout_exists() -> None:
    for directory in ALL_DIRS:
        assert directory.is_dir(), f"missing {directory.relative_to(ROOT)}"
        assert config(directory).files, f"{directory.relative_to(ROOT)} has no .tf files"
    for name in ("backend.tf.example", "terraform.tfvars.example"):
        for directory in ENVIRONMENT_DIRS:
            assert (directory / name).is_file(), f"missing {directory.relative_to(ROOT)}/{name}"


@pytest.mark.parametrize("path", HCL_FILES, ids=ids(HCL_FILES))
def test_every_file_parses_as_hcl(path: Path) -> None:
    document = parse(path)
    assert isinstance(document, dict)


@pytest.mark.parametrize("directory", ALL_DIRS, ids=ids(ALL_DIRS))
def test_versions_pin_terraform_and_every_used_provider(directory: Path) -> None:
    versions = parse(directory / "versions.tf")
    blocks = versions.get("terraform", [])
    assert blocks, "versions.tf has no terraform block"
    block = blocks[0]
    required_version = single(block.get("required_version"))
    assert isinstance(required_version, str), "required_version is missing"
    assert re.search(r">=\s*1\.\d+", required_version), required_version
    assert "< 2.0.0" in required_version, "pin the Terraform major version"

    providers = single(block.get("required_providers"))
    assert isinstance(providers, dict), "required_providers is missing"
    assert single(providers["aws"])["source"] == "hashicorp/aws"
    assert re.fullmatch(r"~> 5\.\d+", single(providers["aws"])["version"])

    prefixes = {name.split("_", 1)[0] for name, _ in config(directory).resources}
    prefixes |= {name.split("_", 1)[0] for name, _ in config(directory).data}
    for prefix in prefixes:
        assert prefix in providers, f"provider {prefix} is used but not in required_providers"
        pin = single(providers[prefix])
        assert pin["source"] == f"hashicorp/{prefix}"
        assert pin["version"].startswith("~> "), f"pin provider {prefix} with ~>"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=ids(ALL_DIRS))
def test_variables_are_typed_described_and_validated(directory: Path) -> None:
    variables = config(directory).variables
    assert variables, "no variables declared"
    for name, body in variables.items():
        assert "type" in body, f"variable {name} has no type"
        description = single(body.get("description"))
        assert isinstance(description, str), f"variable {name} has no description"
        assert len(description) > 10, f"variable {name}: describe it"
        if CONSTRAINED_VARIABLE.search(name):
            assert body.get("validation"), f"variable {name} is constrained but has no validation"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=ids(ALL_DIRS))
def test_outputs_are_described(directory: Path) -> None:
    outputs = config(directory).outputs
    assert outputs, "no outputs declared"
    for name, body in outputs.items():
        assert "value" in body, f"output {name} has no value"
        assert isinstance(single(body.get("description")), str), f"output {name} has no description"


@pytest.mark.parametrize("directory", MODULE_DIRS, ids=ids(MODULE_DIRS))
def test_each_module_has_a_readme(directory: Path) -> None:
    readme = directory / "README.md"
    assert readme.is_file()
    text = readme.read_text(encoding="utf-8")
    for output in config(directory).outputs:
        assert f"`{output}`" in text, f"README.md does not list output {output}"


# --- Interfaces between environments and modules ----------------------------------------


def called_module_dir(environment: Path, call: dict[str, Any]) -> Path:
    source = single(call["source"])
    assert source.startswith("../../modules/"), f"module source {source} is not a local module"
    return (environment / str(source)).resolve()


@pytest.mark.parametrize("environment", ENVIRONMENT_DIRS, ids=ids(ENVIRONMENT_DIRS))
def test_environment_wires_network_cluster_and_vms(environment: Path) -> None:
    called = {
        called_module_dir(environment, call).name for call in config(environment).modules.values()
    }
    assert called == set(MODULES)


@pytest.mark.parametrize("environment", ENVIRONMENT_DIRS, ids=ids(ENVIRONMENT_DIRS))
def test_module_calls_pass_declared_and_required_variables(environment: Path) -> None:
    for call_name, call in config(environment).modules.items():
        module_dir = called_module_dir(environment, call)
        assert module_dir.is_dir(), f"module.{call_name}: {module_dir} does not exist"
        declared = config(module_dir).variables
        arguments = {key for key in call if not key.startswith("__")} - MODULE_META_ARGUMENTS
        unknown = arguments - declared.keys()
        assert not unknown, f"module.{call_name} passes undeclared variables {sorted(unknown)}"
        required = {name for name, body in declared.items() if "default" not in body}
        missing = required - arguments
        assert not missing, f"module.{call_name} misses required variables {sorted(missing)}"


MODULE_REFERENCE = re.compile(r"\bmodule\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)")


@pytest.mark.parametrize("environment", ENVIRONMENT_DIRS, ids=ids(ENVIRONMENT_DIRS))
def test_module_output_references_exist(environment: Path) -> None:
    calls = config(environment).modules
    found = references(environment, MODULE_REFERENCE)
    assert found, "no module.X.Y references found; the scan is broken"
    for call_name, output in found:
        assert call_name in calls, f"module.{call_name} is referenced but never called"
        outputs = config(called_module_dir(environment, calls[call_name])).outputs
        assert output in outputs, f"module.{call_name}.{output}: the module has no such output"


VAR_REFERENCE = re.compile(r"\bvar\.([A-Za-z_][\w-]*)")
LOCAL_REFERENCE = re.compile(r"\blocal\.([A-Za-z_][\w-]*)")
DATA_REFERENCE = re.compile(r"\bdata\.([a-z][a-z0-9]*_\w+)\.([A-Za-z_][\w-]*)")
RESOURCE_REFERENCE = re.compile(r"(?<![\w.])((?:aws|tls)_[a-z0-9_]+)\.([A-Za-z_][\w-]*)")


@pytest.mark.parametrize("directory", ALL_DIRS, ids=ids(ALL_DIRS))
def test_var_local_data_and_resource_references_resolve(directory: Path) -> None:
    current = config(directory)
    for (name,) in references(directory, VAR_REFERENCE):
        assert name in current.variables, f"var.{name} is not declared"
    for (name,) in references(directory, LOCAL_REFERENCE):
        assert name in current.locals, f"local.{name} is not declared"
    for reference in references(directory, DATA_REFERENCE):
        assert reference in current.data, f"data.{'.'.join(reference)} is not declared"
    for reference in references(directory, RESOURCE_REFERENCE):
        assert reference in current.resources, f"{'.'.join(reference)} is not declared"


@pytest.mark.parametrize("environment", ENVIRONMENT_DIRS, ids=ids(ENVIRONMENT_DIRS))
def test_tfvars_example_sets_only_declared_variables(environment: Path) -> None:
    values = parse(environment / "terraform.tfvars.example")
    assert values, "terraform.tfvars.example is empty"
    unknown = set(values) - config(environment).variables.keys()
    assert not unknown, f"terraform.tfvars.example sets undeclared variables {sorted(unknown)}"


@pytest.mark.parametrize("environment", ENVIRONMENT_DIRS, ids=ids(ENVIRONMENT_DIRS))
def test_backend_example_is_encrypted_s3_with_locking(environment: Path) -> None:
    document = parse(environment / "backend.tf.example")
    backend = single(single(document["terraform"])["backend"])
    s3 = single(backend["s3"])
    assert single(s3["encrypt"]) is True
    assert single(s3.get("use_lockfile")) is True or "dynamodb_table" in s3
    assert (
        not (environment / "backend.tf").exists()
        or "backend" not in parse(environment / "backend.tf").get("terraform", [{}])[0]
    ), "a live backend.tf would need credentials for every check"


# --- Security settings the platform relies on ----------------------------------------------


def resource(directory: Path, resource_type: str, name: str) -> dict[str, Any]:
    body = config(directory).resources.get((resource_type, name))
    assert body is not None, f"{resource_type}.{name} is missing"
    return body


def test_virtual_machines_require_imdsv2_encryption_and_ssm() -> None:
    directory = TERRAFORM / "modules" / "virtual_machine"
    instance = resource(directory, "aws_instance", "this")
    assert single(single(instance["metadata_options"])["http_tokens"]) == "required"
    assert single(single(instance["root_block_device"])["encrypted"]) is True
    assert single(instance["ebs_optimized"]) is True
    assert single(instance["monitoring"]) is True
    assert single(instance["associate_public_ip_address"]) is False
    attachment = resource(directory, "aws_iam_role_policy_attachment", "ssm")
    assert single(attachment["policy_arn"]).endswith("/AmazonSSMManagedInstanceCore")
    security_group = resource(directory, "aws_security_group", "this")
    # Rules live in described aws_vpc_security_group_*_rule resources, not inline.
    assert "ingress" not in security_group
    assert "egress" not in security_group


def test_cluster_encrypts_secrets_and_logs_every_control_plane_component() -> None:
    directory = TERRAFORM / "modules" / "kubernetes_cluster"
    cluster = resource(directory, "aws_eks_cluster", "this")
    log_types = set(walk_strings(cluster["enabled_cluster_log_types"]))
    if log_types == {"${local.control_plane_log_types}"}:
        local_values: dict[str, Any] = {}
        for block in parse(directory / "main.tf").get("locals", []):
            local_values.update(block)
        log_types = set(walk_strings(local_values["control_plane_log_types"]))
    assert log_types == ALL_CONTROL_PLANE_LOGS
    encryption = single(cluster["encryption_config"])
    assert list(walk_strings(encryption["resources"])) == ["secrets"]
    resource(directory, "aws_iam_openid_connect_provider", "this")
    node_group = resource(directory, "aws_eks_node_group", "default")
    assert "launch_template" in node_group
    template = resource(directory, "aws_launch_template", "node")
    assert single(single(template["metadata_options"])["http_tokens"]) == "required"


def test_network_logs_flows_and_locks_the_default_security_group() -> None:
    directory = TERRAFORM / "modules" / "network"
    default_group = resource(directory, "aws_default_security_group", "this")
    assert "ingress" not in default_group
    assert "egress" not in default_group
    flow_log = resource(directory, "aws_flow_log", "this")
    assert "aws_cloudwatch_log_group.flow_logs" in " ".join(walk_strings(flow_log))
    log_group = resource(directory, "aws_cloudwatch_log_group", "flow_logs")
    assert "kms_key_id" in log_group
    assert "retention_in_days" in log_group
    key = resource(directory, "aws_kms_key", "flow_logs")
    assert single(key["enable_key_rotation"]) is True


# --- checkov -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkov_report() -> dict[str, Any]:
    checkov = Path(sys.executable).parent / "checkov"
    command = [
        str(checkov),
        "--directory",
        str(TERRAFORM),
        "--framework",
        "terraform",
        "--compact",
        "--output",
        "json",
        "--skip-download",  # no module registry, no guideline download: loopback only
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
        env=unmeasured_environment(),
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {result.returncode}):\n{result.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    merged: dict[str, Any] = {"failed": [], "skipped": [], "passed": 0, "resources": 0, "errors": 0}
    for item in reports:
        merged["passed"] += item["summary"]["passed"]
        merged["resources"] += item["summary"]["resource_count"]
        merged["errors"] += item["summary"]["parsing_errors"]
        merged["failed"] += item.get("results", {}).get("failed_checks", [])
        merged["skipped"] += item.get("results", {}).get("skipped_checks", [])
    return merged


def test_checkov_scanned_every_resource(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["errors"] == 0, "checkov could not parse some files"
    expected = sum(len(config(directory).resources) for directory in ALL_DIRS)
    assert checkov_report["resources"] >= expected
    assert checkov_report["passed"] > 100


def test_checkov_reports_no_failed_check(checkov_report: dict[str, Any]) -> None:
    failures = [
        f"{check['check_id']} {check['check_name']} -> {check['resource']} "
        f"({check['repo_file_path']}:{check['file_line_range'][0]})"
        for check in checkov_report["failed"]
    ]
    assert not failures, "checkov failed:\n" + "\n".join(failures)


def test_checkov_skips_are_inline_with_a_reason(checkov_report: dict[str, Any]) -> None:
    for check in checkov_report["skipped"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, (
            f"{check['check_id']} on {check['resource']} is skipped without reason"
        )
        source = (ROOT / check["repo_file_path"].lstrip("/")).read_text(encoding="utf-8")
        assert f"checkov:skip={check['check_id']}:" in source


# --- What the charts and the deploy path need from the cluster ------------------------------------


def data_source(directory: Path, data_type: str, name: str) -> dict[str, Any]:
    for path in config(directory).files:
        for block in parse(path).get("data", []):
            if name in block.get(data_type, {}):
                body: dict[str, Any] = block[data_type][name]
                return body
    raise AssertionError(f"data.{data_type}.{name} is missing")


def test_cluster_installs_the_ebs_csi_driver_with_its_own_role_and_pins_core_addons() -> None:
    directory = TERRAFORM / "modules" / "kubernetes_cluster"
    ebs = resource(directory, "aws_eks_addon", "ebs_csi")
    assert single(ebs["addon_name"]) == "aws-ebs-csi-driver"
    association = single(ebs["pod_identity_association"])
    assert single(association["role_arn"]) == "${aws_iam_role.ebs_csi.arn}"
    assert single(association["service_account"]) == "ebs-csi-controller-sa"
    assert "defaultStorageClass" in single(ebs["configuration_values"])
    attachment = resource(directory, "aws_iam_role_policy_attachment", "ebs_csi")
    assert single(attachment["policy_arn"]).endswith("/service-role/AmazonEBSCSIDriverPolicy")
    trust = " ".join(
        walk_strings(data_source(directory, "aws_iam_policy_document", "ebs_csi_assume"))
    )
    assert "pods.eks.amazonaws.com" in trust
    versions = single(config(directory).variables["addon_versions"]["default"])
    assert set(versions) == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
    }
    for name, version in versions.items():
        assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", version), name
    for addon in ("network", "node"):
        assert single(resource(directory, "aws_eks_addon", addon)["addon_version"]) == (
            "${var.addon_versions[each.key]}"
        )
    assert "vpc_id" not in config(directory).variables
    ami_types = " ".join(walk_strings(config(directory).variables["node_ami_type"]["validation"]))
    assert "BOTTLEROCKET" not in ami_types


def test_admin_vm_and_ci_role_have_access_entries_with_least_privilege() -> None:
    directory = TERRAFORM / "modules" / "kubernetes_cluster"
    admin = resource(directory, "aws_eks_access_policy_association", "admin")
    assert single(admin["policy_arn"]).endswith("/AmazonEKSClusterAdminPolicy")
    deployer = resource(directory, "aws_eks_access_policy_association", "deployer")
    assert single(deployer["policy_arn"]).endswith("/AmazonEKSAdminPolicy")
    scope = single(deployer["access_scope"])
    assert single(scope["type"]) == "namespace"
    assert single(scope["namespaces"]) == "${var.deployer_namespaces}"
    environment = TERRAFORM / "environments" / "test"
    call = config(environment).modules["kubernetes_cluster"]
    assert "module.helper_vms.iam_role_arn" in " ".join(
        walk_strings(call["cluster_admin_role_arns"])
    )
    assert "aws_iam_role.ci_deploy.arn" in " ".join(
        walk_strings(call["namespace_deployer_role_arns"])
    )
    trust = data_source(environment, "aws_iam_policy_document", "ci_deploy_assume")
    text = " ".join(walk_strings(trust))
    assert "sts:AssumeRoleWithWebIdentity" in text
    assert "repo:${var.github_repository}:environment:${var.environment}" in text
    policy = " ".join(
        walk_strings(data_source(environment, "aws_iam_policy_document", "ci_deploy"))
    )
    assert "eks:DescribeCluster" in policy
    assert "*" not in policy.replace("${", "")
