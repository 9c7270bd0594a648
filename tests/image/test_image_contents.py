"""What the image holds, read from its file list (`podman export` of a container made from it):
no compiler, no package installer or its caches, no tests, no `.git`, no secrets, bytecode for
every module; its size and the size of what the app adds are measured and written down."""

import json
import re
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from tests.image.image_containers import REPO_ROOT, BuiltImage, podman

COMPILERS = re.compile(
    r"(^|.*/)(gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|tcc|rustc|go|"
    r"x86_64-linux-gnu-(gcc|g\+\+|cpp)(-\d+)?|gcc-\d+|g\+\+-\d+)$"
)
PACKAGE_CACHES = re.compile(
    r"^(root/\.cache/.+|var/cache/apt/archives/.+\.deb|var/lib/apt/lists/[^/]*_(Packages|Release)"
    r"|var/cache/apt/.+\.bin|.*/\.cache/pip/.+|tmp/.+)$"
)
PACKAGE_INSTALLERS = re.compile(r"^(usr/local/bin/pip[\d.]*|.*/site-packages/pip(-[^/]+)?)(/.*)?$")
PROJECT_LEFTOVERS = re.compile(
    r"(^|/)(\.git|\.venv|\.state|\.pytest_cache|\.mypy_cache|\.ruff_cache)(/|$)"
    r"|^app/(tests|bench|devstack|deploy|infrastructure|monitoring)(/|$)"
    r"|^app/.*(conftest\.py|requirements[^/]*\.(txt|lock))$"
)
SECRETS = re.compile(
    r"(^|/)(\.env|\.env\.[^/]+|id_rsa|id_ed25519|[^/]+\.key|kubeconfig|\.netrc|"
    r"\.pypirc|\.docker/config\.json|\.git-credentials)$"
    # Certificates are public (system CAs, test CAs inside wheels); one in the app or a home is not.
    r"|^(app|root|home)/.*\.pem$"
)
# A PEM private key: its header line and a line of its base64 body (a library that only names
# the header, as cryptography's ssh.py does, holds no key).
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40,}")
MAX_IMAGE_MB = 500
# What the Dockerfile adds to the base; measured 200 MB (PyJWT[crypto] brings cryptography).
MAX_APP_MB = 240


def read_export(path: Path) -> tuple[dict[str, int], list[str]]:
    """Every entry (path without the leading slash -> size) and the files holding a private key."""
    entries, with_keys = {}, []
    with tarfile.open(path) as archive:
        for member in archive:
            name = member.name.removeprefix("./").rstrip("/")
            entries[name] = member.size
            if member.isfile() and member.size < 1_000_000:
                content = archive.extractfile(member)
                if content is not None and PRIVATE_KEY.search(content.read()):
                    with_keys.append(name)
    return entries, with_keys


@pytest.fixture(scope="module")
def exported(
    image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, int], list[str]]:
    export = tmp_path_factory.mktemp("image-export") / "rootfs.tar"
    container = podman("create", image.name).stdout.strip()
    try:
        podman("export", "--output", str(export), container, timeout=300)
    finally:
        podman("rm", "--force", container, check=False)
    result = read_export(export)
    export.unlink()
    return result


@pytest.fixture(scope="module")
def files(exported: tuple[dict[str, int], list[str]]) -> dict[str, int]:
    """Path (no leading slash) -> size of every entry of the image's root filesystem."""
    return exported[0]


def offending(files: dict[str, int], pattern: re.Pattern[str]) -> list[str]:
    return sorted(path for path in files if pattern.search(path))


def test_file_list_is_read_from_the_image(files: dict[str, int]) -> None:
    for expected in ("app/app/api/main.py", "app/entrypoint.py", "app/scripts/start_api.sh"):
        assert expected in files
    assert any(path.startswith("opt/venv/lib/python3.12/site-packages/fastapi/") for path in files)


def test_no_compiler(files: dict[str, int]) -> None:
    binaries = {p: s for p, s in files.items() if re.match(r"(usr/)?(local/)?s?bin/", p)}
    assert offending(binaries, COMPILERS) == []


def test_no_package_installer_and_no_package_manager_caches(files: dict[str, int]) -> None:
    assert offending(files, PACKAGE_INSTALLERS) == []
    assert offending(files, PACKAGE_CACHES) == []


def test_no_tests_git_or_local_state(files: dict[str, int]) -> None:
    assert offending(files, PROJECT_LEFTOVERS) == []
    top_level = {path.split("/")[1] for path in files if path.startswith("app/") and "/" in path}
    assert top_level == {"alembic", "alembic.ini", "app", "entrypoint.py", "run_api.py",
                         "run_worker.py", "scripts", "__pycache__"}  # fmt: skip
    scripts = {path for path in files if path.startswith("app/scripts/")}
    assert scripts == {
        "app/scripts/start_api.sh",
        "app/scripts/start_worker.sh",
        "app/scripts/worker_rollout.sh",
    }
    own_tests = {path.name for path in (REPO_ROOT / "tests").rglob("*.py")} - {"__init__.py"}
    shipped = {PurePosixPath(path).name for path in files if path.startswith("app/")}
    assert own_tests & shipped == set()


def test_no_secrets(exported: tuple[dict[str, int], list[str]]) -> None:
    files, with_private_keys = exported
    assert offending(files, SECRETS) == []
    assert with_private_keys == []


def missing_bytecode(files: dict[str, int]) -> list[str]:
    roots = ("app/", "opt/venv/lib/python3.12/site-packages/", "usr/local/lib/python3.12/")
    sources = [PurePosixPath(p) for p in files if p.endswith(".py") and p.startswith(roots)]
    assert len(sources) > 1000
    return [
        str(source)
        for source in sources
        if str(source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc") not in files
    ]


def test_every_module_has_its_bytecode(files: dict[str, int]) -> None:
    """The root filesystem is read-only at run time: bytecode must be built in."""
    assert missing_bytecode(files) == []


def test_size_is_recorded_and_bounded(image: BuiltImage, files: dict[str, int]) -> None:
    def size(name: str) -> int:
        return int(podman("image", "inspect", "--format", "{{.Size}}", name).stdout)

    image_bytes, base_bytes = size(image.name), size(image.base)
    venv_and_code = sum(
        size for path, size in files.items() if path.startswith(("opt/venv/", "app/"))
    )
    report = {
        "image": image.name,
        "base": image.base,
        "stand_in_base": image.on_standin_base,
        "image_mb": round(image_bytes / 1e6, 1),
        "app_layers_mb": round((image_bytes - base_bytes) / 1e6, 1),
        "venv_and_code_mb": round(venv_and_code / 1e6, 1),
        "build_seconds": round(image.build_seconds, 1),
    }
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    (REPO_ROOT / "build" / "image-report.json").write_text(json.dumps(report, indent=2) + "\n")
    assert image_bytes / 1e6 < MAX_IMAGE_MB, report
    assert (image_bytes - base_bytes) / 1e6 < MAX_APP_MB, report
    assert venv_and_code < image_bytes - base_bytes, report


MUTATION = """\
FROM {image}
USER 0
RUN touch /usr/bin/gcc-12 /app/.env \\
    && mkdir -p /root/.cache/pip/http /app/.git /app/tests \\
        /opt/venv/lib/python3.12/site-packages/pip \\
    && touch /root/.cache/pip/http/entry /app/.git/config /app/tests/conftest.py \\
        /opt/venv/lib/python3.12/site-packages/pip/__init__.py \\
    && printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\n%s\\n' \\
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB > /app/deploy_key \\
    && rm /app/app/__pycache__/config.cpython-312.pyc
USER 10001:10001
"""


def test_the_checks_catch_a_spoiled_image(image: BuiltImage, tmp_path: Path) -> None:
    """Mutation: the tested image plus one forbidden thing of each kind fails each check."""
    (tmp_path / "Containerfile").write_text(MUTATION.format(image=image.name))
    spoiled = f"{image.name}-spoiled"
    podman("build", "--quiet", "--tag", spoiled, str(tmp_path), timeout=300)
    container = podman("create", spoiled).stdout.strip()
    export = tmp_path / "spoiled.tar"
    try:
        podman("export", "--output", str(export), container, timeout=300)
    finally:
        podman("rm", "--force", container, check=False)
        podman("rmi", "--force", spoiled, check=False)
    files, with_private_keys = read_export(export)
    binaries = {p: s for p, s in files.items() if re.match(r"(usr/)?(local/)?s?bin/", p)}
    assert offending(binaries, COMPILERS) == ["usr/bin/gcc-12"]
    assert "root/.cache/pip/http/entry" in offending(files, PACKAGE_CACHES)
    pip = "opt/venv/lib/python3.12/site-packages/pip"
    assert offending(files, PACKAGE_INSTALLERS) == [pip, f"{pip}/__init__.py"]
    assert set(offending(files, PROJECT_LEFTOVERS)) >= {"app/.git", "app/tests/conftest.py"}
    assert offending(files, SECRETS) == ["app/.env"]
    assert with_private_keys == ["app/deploy_key"]
    assert "app/app/config.py" in missing_bytecode(files)
