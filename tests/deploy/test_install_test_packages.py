"""`make test` installs the Debian packages its tests need, or stops at once saying how.

scripts/install_test_packages.sh runs first in `make test`. The cases where packages are missing
run on a copy of the Makefile and scripts/ with a stand-in `dpkg-query` (it reports the packages a
test names as missing), `apt-get` and `sudo` (they record their calls) first on PATH: the machine's
packages are never touched. The case with everything present asks the real `dpkg-query`.
"""

import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.privileges import as_unprivileged

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALLER = "scripts/install_test_packages.sh"
# The promise to a user without root or sudo.
STOPS_WITHIN_SECONDS = 5

# Reports every package as installed but those named in $MISSING, in either format the scripts
# ask for (`${Package} ${db:Status-Status}` lines, or one package's `${Status}`).
FAKE_DPKG_QUERY = """#!/bin/sh
format=$2
shift 2
for package in "$@"; do
  case " $MISSING " in *" $package "*) continue ;; esac
  case $format in
    *Package*) echo "$package installed" ;;
    *) printf 'install ok installed' ;;
  esac
done
"""
FAKE_APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$CALLS"
"""
# `sudo -n true` answers whether sudo works without a password: $SUDO_WORKS says.
FAKE_SUDO = """#!/bin/sh
echo "sudo $*" >> "$CALLS"
[ "$SUDO_WORKS" = yes ] || exit 1
[ "$1" = -n ] && shift
exec "$@"
"""


@dataclass
class Sandbox:
    """A copy of the Makefile and scripts/ with stand-in package tools first on PATH."""

    root: Path
    calls: Path

    def run(
        self, command: list[str], *, missing: tuple[str, ...] = (), sudo_works: bool = False
    ) -> tuple[subprocess.CompletedProcess[str], float]:
        environment = {
            **os.environ,
            "PATH": f"{self.root / 'fake-bin'}:{os.environ['PATH']}",
            "MISSING": " ".join(missing),
            "CALLS": str(self.calls),
            "SUDO_WORKS": "yes" if sudo_works else "no",
        }
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=self.root, env=environment, capture_output=True, text=True, timeout=60
        )
        return result, time.monotonic() - started

    def recorded_calls(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # World-readable: under root the "user without sudo" is nobody (tmp_path is root's alone).
    root = Path(tempfile.mkdtemp(prefix="sbs-packages-"))
    try:
        root.chmod(0o755)
        shutil.copy2(REPO_ROOT / "Makefile", root / "Makefile")
        shutil.copytree(REPO_ROOT / "scripts", root / "scripts")
        fakes = root / "fake-bin"
        fakes.mkdir()
        for name, text in (
            ("dpkg-query", FAKE_DPKG_QUERY),
            ("apt-get", FAKE_APT_GET),
            ("sudo", FAKE_SUDO),
        ):
            (fakes / name).write_text(text)
            (fakes / name).chmod(0o755)
        calls = root / "calls"
        calls.touch()
        calls.chmod(calls.stat().st_mode | stat.S_IWOTH)
        yield Sandbox(root, calls)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def listed_packages() -> list[str]:
    result = subprocess.run(
        [REPO_ROOT / INSTALLER, "--list"], capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout.split()


def test_the_list_holds_what_the_tests_and_podman_need() -> None:
    packages = listed_packages()
    assert len(packages) == len(set(packages))
    for package in (
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-postgres-exporter",
        "prometheus-redis-exporter",
        "prometheus-blackbox-exporter",
        "mmdebstrap",
        "podman",
        "catatonit",
    ):
        assert package in packages


def test_make_test_without_root_or_sudo_stops_at_once_naming_the_apt_get_line(
    sandbox: Sandbox,
) -> None:
    packages = listed_packages()
    result, seconds = sandbox.run(
        as_unprivileged(["make", "--no-print-directory", "test"]), missing=tuple(packages)
    )
    assert result.returncode != 0
    assert seconds < STOPS_WITHIN_SECONDS, seconds
    line = "sudo apt-get update && sudo apt-get install -y --no-install-recommends " + " ".join(
        packages
    )
    assert f"  {line}" in result.stderr.splitlines(), result.stderr
    # Nothing was installed, and make went no further (no virtualenv, no pytest).
    assert not [call for call in sandbox.recorded_calls() if "apt-get" in call]
    assert "Installing" not in result.stdout + result.stderr
    assert not (sandbox.root / ".venv").exists()


def test_with_passwordless_sudo_it_installs_exactly_what_is_missing(sandbox: Sandbox) -> None:
    result, _ = sandbox.run(
        as_unprivileged([INSTALLER]),
        missing=("prometheus-alertmanager", "mmdebstrap"),
        sudo_works=True,
    )
    assert result.returncode == 0, result.stderr
    assert sandbox.recorded_calls() == [
        "sudo -n true",
        "sudo -n apt-get update -qq",
        "apt-get update -qq",
        "sudo -n apt-get install -y -qq --no-install-recommends prometheus-alertmanager mmdebstrap",
        "apt-get install -y -qq --no-install-recommends prometheus-alertmanager mmdebstrap",
    ]


def test_as_root_it_installs_without_sudo(sandbox: Sandbox) -> None:
    """CI runs the tests as root; elsewhere root is what sudo gives the script."""
    command = [INSTALLER] if os.geteuid() == 0 else ["sudo", "-n", INSTALLER]
    result, _ = sandbox.run(command, missing=("prometheus",), sudo_works=os.geteuid() != 0)
    assert result.returncode == 0, result.stderr
    apt_calls = [call for call in sandbox.recorded_calls() if not call.startswith("sudo")]
    assert apt_calls == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends prometheus",
    ]


def test_with_every_package_present_it_installs_nothing(sandbox: Sandbox) -> None:
    """On this machine (`make test` ran the installer before the tests), the real dpkg-query."""
    (sandbox.root / "fake-bin" / "dpkg-query").unlink()
    result, _ = sandbox.run([INSTALLER], sudo_works=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"All {len(listed_packages())} Debian packages the tests need are installed."
    )
    assert sandbox.recorded_calls() == []
