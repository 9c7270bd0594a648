"""Third-party tools run without coverage's subprocess hook, with everything else passed on."""

import os
import subprocess
import sys

import pytest

from tests.tools import COVERAGE_HOOKS, unmeasured_environment


def test_a_tools_environment_leaves_only_coverage_out(monkeypatch: pytest.MonkeyPatch) -> None:
    for hook in COVERAGE_HOOKS:
        monkeypatch.setenv(hook, "[run]")
    monkeypatch.setenv("SBS_SOMETHING", "kept")
    environment = unmeasured_environment({"ANSIBLE_NOCOLOR": "1"})
    assert not set(COVERAGE_HOOKS) & set(environment)
    assert environment["SBS_SOMETHING"] == "kept"
    assert environment["ANSIBLE_NOCOLOR"] == "1"
    assert environment["PATH"] == os.environ["PATH"]


def test_a_tool_process_starts_no_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The venv's .pth hook starts coverage only where the hook's variable is set."""
    monkeypatch.setenv("COVERAGE_PROCESS_CONFIG", "not a configuration")
    probe = "import sys; print('coverage' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=unmeasured_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "False"
