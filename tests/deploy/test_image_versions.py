"""Third-party images are pinned to the same tag in compose, the Helm chart and Ansible.

Proves: docker-compose.yml, every values*.yaml of deploy/helm/sbs (parent chart and subcharts)
and the Ansible role defaults, group_vars and host_vars each pin postgres, redis, nats,
temporalio/server, temporalio/admin-tools and temporalio/ui, each to exactly one tag, and that
tag is the same in all three; the admin-tools tag belongs to the same Temporal release as the
server. A bump in one place only, or an image dropped from one place, fails here. The
comparison itself is shown to catch a one-sided bump and a missing pin.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
HELM_CHART = ROOT / "deploy" / "helm" / "sbs"
ANSIBLE = ROOT / "infrastructure" / "ansible"

REPOSITORIES = (
    "postgres",
    "redis",
    "nats",
    "temporalio/server",
    "temporalio/admin-tools",
    "temporalio/ui",
)
ARTIFACTS = ("compose", "helm", "ansible")

# artifact -> repository -> {pin: [where it is set]}
Pins = dict[str, dict[str, dict[str, list[str]]]]


class _TolerantLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """SafeLoader that reads Ansible tags such as !vault as plain (ignored) values."""


_TolerantLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_TolerantLoader)  # noqa: S506 (a SafeLoader)


def normalise(repository: str) -> str:
    """`docker.io/library/redis` and `redis` name the same Docker Hub repository."""
    for prefix in ("docker.io/", "index.docker.io/", "library/"):
        repository = repository.removeprefix(prefix)
    return repository


def split_reference(reference: str) -> tuple[str, str] | None:
    """`repo[:tag][@digest]` -> (repository, pin); None for templated or tagless references."""
    if "{{" in reference or "${" in reference or " " in reference.strip():
        return None
    name, at, digest = reference.strip().partition("@")
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:  # no tag, or the colon belonged to a registry port
        return None
    pin = tag + (at + digest if at else "")
    return normalise(repository), pin


def walk(node: Any, where: str) -> Iterator[tuple[Any, str]]:
    yield node, where
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}{'' if where.endswith(':') else '.'}{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}[{index}]")


def add(pins: dict[str, dict[str, list[str]]], repository: str, pin: str, where: str) -> None:
    if repository in REPOSITORIES:
        pins.setdefault(repository, {}).setdefault(pin, []).append(where)


def compose_pins() -> dict[str, dict[str, list[str]]]:
    pins: dict[str, dict[str, list[str]]] = {}
    for name, service in (load(COMPOSE)["services"] or {}).items():
        parsed = split_reference(str(service.get("image", "")))
        if parsed:
            add(pins, *parsed, f"docker-compose.yml:services.{name}.image")
    return pins


def helm_values_files() -> list[Path]:
    return sorted(HELM_CHART.rglob("values*.yaml"))


def helm_pins() -> dict[str, dict[str, list[str]]]:
    """Every {repository, tag[, digest]} map in the chart's values files, nested or not."""
    pins: dict[str, dict[str, list[str]]] = {}
    for path in helm_values_files():
        for node, where in walk(load(path) or {}, f"{path.relative_to(ROOT).as_posix()}:"):
            if isinstance(node, dict) and "repository" in node and "tag" in node:
                pin = str(node["tag"]) + (f"@{node['digest']}" if node.get("digest") else "")
                add(pins, normalise(str(node["repository"])), pin, where)
    return pins


def ansible_variable_files() -> list[Path]:
    files = list(ANSIBLE.glob("roles/*/defaults/main.y*ml"))
    for folder in ("group_vars", "host_vars"):
        for directory in ANSIBLE.rglob(folder):
            files.extend(path for path in directory.rglob("*") if path.suffix in {".yml", ".yaml"})
    return sorted(files)


def ansible_pins() -> dict[str, dict[str, list[str]]]:
    """Every string value that is an image reference, in role defaults and inventory vars."""
    pins: dict[str, dict[str, list[str]]] = {}
    for path in ansible_variable_files():
        for node, where in walk(load(path) or {}, f"{path.relative_to(ROOT).as_posix()}:"):
            if isinstance(node, str):
                parsed = split_reference(node)
                if parsed:
                    add(pins, *parsed, where)
    return pins


def disagreements(pins: Pins, repository: str) -> list[str]:
    """What keeps `repository` from having one tag everywhere; empty when it does."""
    problems: list[str] = []
    chosen: dict[str, str] = {}
    for artifact in ARTIFACTS:
        found = pins[artifact].get(repository, {})
        if not found:
            problems.append(f"{artifact} pins no {repository} image")
        elif len(found) > 1:
            problems.append(f"{artifact} pins {repository} to several tags: {found}")
        else:
            ((pin, _places),) = found.items()
            chosen[artifact] = pin
    if len(set(chosen.values())) > 1:
        details = ", ".join(
            f"{artifact}={pin} ({'; '.join(pins[artifact][repository][pin])})"
            for artifact, pin in chosen.items()
        )
        problems.append(f"{repository} tags differ: {details}")
    return problems


@pytest.fixture(scope="module")
def pins() -> Pins:
    return {"compose": compose_pins(), "helm": helm_pins(), "ansible": ansible_pins()}


def test_the_sources_are_where_the_test_looks() -> None:
    assert COMPOSE.is_file()
    values = {path.relative_to(HELM_CHART).as_posix() for path in helm_values_files()}
    assert {
        "values.yaml",
        "charts/postgresql/values.yaml",
        "charts/redis/values.yaml",
        "charts/nats/values.yaml",
        "charts/temporal/values.yaml",
    } <= values
    defaults = {path.relative_to(ANSIBLE).as_posix() for path in ansible_variable_files()}
    for role in ("postgresql", "redis", "nats", "temporal"):
        assert f"roles/{role}/defaults/main.yml" in defaults


@pytest.mark.parametrize("repository", REPOSITORIES)
def test_image_has_one_tag_in_every_artifact(pins: Pins, repository: str) -> None:
    assert disagreements(pins, repository) == []


def test_admin_tools_match_the_server_release(pins: Pins) -> None:
    # Tags look like 1.29.1 (server), 1.29.1-tctl-1.18.4-cli-1.5.0 or 1.30.1 (admin-tools).
    for artifact in ARTIFACTS:
        (server,) = pins[artifact]["temporalio/server"]
        (admin_tools,) = pins[artifact]["temporalio/admin-tools"]
        assert admin_tools.split("@")[0].split("-")[0] == server.split("@")[0], artifact


def test_helm_schema_wait_uses_the_admin_tools_of_the_server_release() -> None:
    # It reads the schema version the release needs from that image's schema directories.
    template = (HELM_CHART / "charts/temporal/templates/server-deployment.yaml").read_text()
    wait = template.split("- name: wait-for-schema", 1)[1].split("command:", 1)[0]
    assert ".Values.adminTools.image" in wait


def test_a_one_sided_bump_or_a_missing_pin_is_reported(pins: Pins) -> None:
    # On an agreeing baseline (compose's pins everywhere), independent of the real state.
    agreed: Pins = {artifact: copy.deepcopy(pins["compose"]) for artifact in ARTIFACTS}
    assert all(disagreements(agreed, repository) == [] for repository in REPOSITORIES)
    for artifact in ARTIFACTS:
        bumped = copy.deepcopy(agreed)
        bumped[artifact]["redis"] = {"99.0.0": ["an edit in one place only"]}
        (problem,) = disagreements(bumped, "redis")
        assert problem.startswith("redis tags differ")
        assert f"{artifact}=99.0.0" in problem

        missing = copy.deepcopy(agreed)
        del missing[artifact]["temporalio/ui"]
        assert disagreements(missing, "temporalio/ui") == [
            f"{artifact} pins no temporalio/ui image"
        ]

    doubled = copy.deepcopy(agreed)
    doubled["helm"]["nats"]["2.10.0-alpine"] = ["a second, older pin"]
    (problem,) = disagreements(doubled, "nats")
    assert problem.startswith("helm pins nats to several tags")


def test_reference_parsing() -> None:
    assert split_reference("redis:7.4.11") == ("redis", "7.4.11")
    assert split_reference("docker.io/library/postgres:18.6") == ("postgres", "18.6")
    assert split_reference("temporalio/ui:2.45.3@sha256:" + "a" * 64) == (
        "temporalio/ui",
        "2.45.3@sha256:" + "a" * 64,
    )
    assert split_reference("registry:5000/team/app") is None
    assert split_reference("{{ redis_image }}") is None
    assert split_reference("${SBS_IMAGE:-ghcr.io/sbs-platform/sbs:local}") is None
