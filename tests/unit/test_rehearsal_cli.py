"""`python -m rehearsal` refuses, in one line, where it cannot run: not Linux, or not root."""

import os
import sys

import pytest

from rehearsal import __main__ as cli


@pytest.mark.parametrize(
    ("platform", "uid", "expected"),
    [("darwin", 0, "needs Linux"), ("linux", 1000, "needs root")],
)
def test_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    platform: str,
    uid: int,
    expected: str,
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    assert cli.main(["down"]) == 2
    error = capsys.readouterr().err
    assert expected in error
    assert error.count("\n") == 1


def test_runs_as_root_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert cli.unsupported() is None
