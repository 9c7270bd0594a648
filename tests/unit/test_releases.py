"""`releases.json` and `CHANGELOG.md` agree with each other and with the code: every release
names a commit of this repository whose `app/__init__.py` says that version, the newest is the
version the code reports, and the changelog has a section for each."""

import re

from app import __version__
from devstack.config import PROJECT_ROOT
from tests.releases import git, releases

CHANGELOG = (PROJECT_ROOT / "CHANGELOG.md").read_text()


def semver(version: str) -> tuple[int, ...]:
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    return tuple(int(part) for part in version.split("."))


def test_versions_increase_and_the_newest_is_the_code_version() -> None:
    versions = [release.version for release in releases()]
    assert versions[:1] == ["1.0.0"]
    assert [semver(v) for v in versions] == sorted({semver(v) for v in versions})
    assert versions[-1] == __version__


def test_each_release_commit_is_in_the_history_with_its_version() -> None:
    for release in releases():
        assert re.fullmatch(r"[0-9a-f]{40}", release.commit), release
        found = git("cat-file", "-e", f"{release.commit}^{{commit}}")
        assert found.returncode == 0, (
            f"{release.version}: commit {release.commit} is not in this clone's history "
            "(a shallow clone? fetch the full history)"
        )
        init = git("show", f"{release.commit}:app/__init__.py")
        assert f'__version__ = "{release.version}"' in init.stdout, release


def test_the_changelog_has_a_dated_section_per_release() -> None:
    sections = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", CHANGELOG, re.M)
    assert sorted(sections, key=lambda item: semver(item[0])) == [
        (release.version, release.date) for release in releases()
    ]
    assert "## [Unreleased]" in CHANGELOG
