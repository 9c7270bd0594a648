"""Fixtures of the image tests: the image, built once per test run with `scripts/build_image.sh`
(what `make image` runs), and hardened containers started from it, removed at the end.

The tests use podman (installed by scripts/install_podman.sh; `.ci/run` does it in CI). They
are skipped only where no podman can be installed, and never when `CI` is set.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.image.image_containers import (
    REPO_ROOT,
    TEST_IMAGE,
    BuiltImage,
    Container,
    podman,
    unavailable,
)

BUILD_TIMEOUT = 900  # a first build on a fresh machine includes the stand-in base (~1 min)


@pytest.fixture(scope="session")
def container_engine() -> str:
    """podman, ready to run containers here (installed and configured when it is not)."""
    installer = REPO_ROOT / "scripts" / "install_podman.sh"
    check = subprocess.run([installer, "--check"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0 or shutil.which("podman") is None:
        if os.geteuid() != 0 and shutil.which("sudo") is None:
            unavailable(
                f"podman is not ready ({check.stdout.strip()}) and this user cannot install it"
            )
        installed = subprocess.run([installer], capture_output=True, text=True, timeout=600)
        if installed.returncode != 0:
            unavailable(f"scripts/install_podman.sh failed: {installed.stderr[-2000:]}")
    return "podman"


@pytest.fixture(scope="session")
def image(container_engine: str, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    """The image, built from this checkout once per run (layers are cached across runs)."""
    log_file = tmp_path_factory.mktemp("image") / "build.log"
    started = time.monotonic()
    with log_file.open("w") as log:
        result = subprocess.run(
            [REPO_ROOT / "scripts" / "build_image.sh"],
            env={**os.environ, "SBS_IMAGE": TEST_IMAGE, "CONTAINER_ENGINE": container_engine},
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    build_log = log_file.read_text()
    assert result.returncode == 0, f"image build failed:\n{build_log[-4000:]}"
    assert result.stdout.strip() == TEST_IMAGE
    return BuiltImage(TEST_IMAGE, time.monotonic() - started, build_log)


@pytest.fixture(scope="session")
def run_container(image: BuiltImage) -> Iterator[Any]:
    """Start a container from the image, hardened as the issue asks; all removed at the end."""
    started: list[Container] = []

    def run(
        name: str, environment: dict[str, str], *options: str, command: tuple[str, ...] = ()
    ) -> Container:
        env_options = [
            item for key, value in environment.items() for item in ("-e", f"{key}={value}")
        ]
        podman("rm", "--force", "--time", "0", name, check=False)
        podman(
            "run", "--detach", "--name", name,
            "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
            # The test stack listens on the host's loopback: 10.0.2.2 inside the container.
            "--network", "slirp4netns:allow_host_loopback=true",
            *env_options, *options, image.name, *command,
        )  # fmt: skip
        container = Container(name)
        started.append(container)
        return container

    yield run
    for container in started:
        podman("rm", "--force", "--time", "0", container.name, check=False)
