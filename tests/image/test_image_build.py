"""How the image gets built here: the scripts behind `make image` are idempotent, say what they
do, and a stand-in base is cached, labelled as such, and used only when no registry answers."""

import subprocess
import time

from tests.image.image_containers import REPO_ROOT, BuiltImage, podman

SCRIPTS = REPO_ROOT / "scripts"


def run_script(name: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPTS / name], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_podman_setup_is_idempotent(container_engine: str) -> None:
    assert run_script("install_podman.sh", timeout=30).returncode == 0
    again = run_script("install_podman.sh", timeout=30)
    assert again.returncode == 0, again.stderr
    assert "Installing" not in again.stdout + again.stderr, "a second run installs nothing"
    assert (
        subprocess.run(
            [SCRIPTS / "install_podman.sh", "--check"], capture_output=True, timeout=30, check=False
        ).returncode
        == 0
    )


def test_build_says_which_base_it_used(image: BuiltImage) -> None:
    assert f"base {image.base}" in image.log
    (history,) = [podman("image", "inspect", "--format", "{{.Comment}}", image.base).stdout]
    if image.on_standin_base:
        assert image.base.startswith("localhost/sbs-python-standin:3.12.")
        assert "STAND-IN for python:3.12-slim" in history
        assert "never publish it" in image.log
    else:
        assert "python:3.12" in image.base
        assert "STAND-IN" not in history


def test_standin_base_is_cached_by_python_version(image: BuiltImage) -> None:
    if not image.on_standin_base:
        return  # a registry answered: no stand-in was made, nothing to cache
    started = time.monotonic()
    again = run_script("make_standin_base.sh", timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == image.base
    assert "using the cached stand-in base" in again.stderr
    assert time.monotonic() - started < 10
