"""The Ansible roles that can run here converge: applied twice, the second run changes nothing.

A throwaway Debian bookworm root (mmdebstrap, from the machine's configured Debian mirror) is
the host, reached with the community.general.chroot connection. Only `common` can run here: the
other roles drive a Docker engine (none exists on these machines), and in `common` the kernel
settings are skipped (`common_sysctl: {}`), because a chroot shares the host's kernel and a
test must not change the machine's sysctls; tests/deploy/test_ansible.py checks their logic.
Needs root (chroot) and mmdebstrap: `.ci/run` installs it; locally without them the test is
skipped, never in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.artifact_checks import ansible_environment
from tests.deploy.test_ansible import ANSIBLE, BIN

ROLES_THAT_RUN_HERE = ("common",)
# Kernel settings are the host's inside a chroot.
CHROOT_VARIABLES: dict[str, dict[str, int]] = {"common_sysctl": {}, "common_sysctl_minimums": {}}


def debian_mirror() -> str:
    """The Debian mirror apt on this machine uses (deb822 or one-line sources)."""
    patterns = (
        r"^URIs:\s*(\S+/debian)/?\s*$",
        r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s+bookworm\s",
    )
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if path.is_file():
            for pattern in patterns:
                match = re.search(pattern, path.read_text(), re.MULTILINE)
                if match:
                    return match.group(1)
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def debian_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    problems = []
    if os.geteuid() != 0:
        problems.append("chroot needs root")
    if shutil.which("mmdebstrap") is None:
        problems.append("mmdebstrap is missing (apt-get install mmdebstrap)")
    if problems:
        if os.environ.get("CI"):
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))
    root = tmp_path_factory.mktemp("debian") / "bookworm"
    result = subprocess.run(
        [
            *("mmdebstrap", "--quiet", "--variant=apt", "--include=python3", "--mode=root"),
            *("bookworm", str(root), debian_mirror()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def apply_to_root(role: str, root: Path, tmp_path: Path) -> dict[str, Any]:
    playbook = tmp_path / f"{role}.yml"
    play = {"name": f"Apply {role}", "hosts": "all", "gather_facts": True, "roles": [role]}
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    result = subprocess.run(
        [
            *(str(BIN / "ansible-playbook"), "-i", f"{root},", "-c", "community.general.chroot"),
            *(str(playbook), "--extra-vars", json.dumps(CHROOT_VARIABLES)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ANSIBLE,
        env=ansible_environment(
            ANSIBLE,
            {
                "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
                "ANSIBLE_ROLES_PATH": str(ANSIBLE / "roles"),
                # The root's own Python, not the controller's venv.
                "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
            },
        ),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    stats: dict[str, Any] = json.loads(result.stdout)["stats"][str(root)]
    return stats


@pytest.mark.parametrize("role", ROLES_THAT_RUN_HERE)
def test_role_converges_on_a_fresh_debian_root(
    role: str, debian_root: Path, tmp_path: Path
) -> None:
    first = apply_to_root(role, debian_root, tmp_path)
    assert first["failures"] == 0
    assert first["changed"] > 0, "the first run on a fresh root must install something"
    assert (debian_root / "etc/apt/apt.conf.d/20auto-upgrades").is_file()
    assert (debian_root / "usr/bin/unattended-upgrade").exists()
    second = apply_to_root(role, debian_root, tmp_path)
    assert second["failures"] == 0
    assert second["changed"] == 0, second
