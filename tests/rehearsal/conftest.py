"""The rehearsal's tests need root on Linux and the topology's programs: skipped without them on
a developer's machine, failed under CI (never skipped there)."""

import os
import shutil
import sys

import pytest


def requirements_missing() -> list[str]:
    problems = []
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        problems.append("the rehearsal needs root on Linux")
    for program, package in (("haproxy", "haproxy"), ("etcd", "etcd-server"), ("ip", "iproute2")):
        if shutil.which(program) is None:
            problems.append(f"{program} is missing (apt-get install {package})")
    return problems


@pytest.fixture(scope="module", autouse=True)
def rehearsal_host() -> None:
    problems = requirements_missing()
    if problems:
        if os.environ.get("CI"):
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))
