"""podman, driven from the image tests: every call bounded in time, failures with their output."""

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import poll

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_IMAGE = "localhost/sbs:image-test"


def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {result.stderr or result.stdout}")
    return result


def podman_json(*args: str) -> Any:
    return json.loads(podman(*args).stdout)


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"image tests cannot run in CI: {reason}")
    pytest.skip(reason)


@dataclass
class BuiltImage:
    name: str
    build_seconds: float
    log: str

    @property
    def on_standin_base(self) -> bool:
        return "STAND-IN" in self.log

    @property
    def base(self) -> str:
        """The base image the build used, as build_image.sh reports it."""
        found = re.search(r"^build_image\.sh: building \S+ \(base (\S+)\)", self.log, re.MULTILINE)
        assert found, self.log
        return found.group(1)


@dataclass
class Container:
    name: str

    def inspect(self) -> dict[str, Any]:
        (details,) = podman_json("container", "inspect", self.name)
        assert isinstance(details, dict)
        return details

    def logs(self) -> str:
        result = podman("logs", self.name)
        return result.stdout + result.stderr

    def exec(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, timeout=timeout, check=False)

    def wait_for_log(self, text: str, timeout: float) -> str:
        def logged_or_stopped() -> tuple[str, bool]:
            return self.logs(), self.inspect()["State"]["Running"]

        logs, _ = poll(logged_or_stopped, lambda seen: text in seen[0] or not seen[1], timeout)
        if text not in logs:
            raise AssertionError(f"{self.name} did not log {text!r} in {timeout} s:\n{logs}")
        return logs
