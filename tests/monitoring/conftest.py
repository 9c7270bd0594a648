"""Fixtures of the monitoring tests."""

import shutil

import pytest


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool from Debian's `prometheus` package; its absence is a failure, never a skip."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH. Install Debian's prometheus package: "
            "apt-get update && apt-get install -y prometheus",
            pytrace=False,
        )
    return path
