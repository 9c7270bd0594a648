"""The recipes of docs/recipes.md, followed in a scratch copy of the repository against the test
stack.

The code comes from the page's blocks (first line: the file's path); `make migration`,
`make migrate` and `make dev` run as a developer runs them, pointed at the stack's servers by the
same `*_PORT`/`SBS_STATE_DIR` variables `make up` reads. The new model's migration is applied to
the stack's database and rolled back at the end; the scratch worker polls a queue of its own.
"""

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import nats
import pytest
from temporalio.client import Client

from devstack.config import (
    DATABASE_NAME,
    HOST,
    PORT_VARIABLES,
    PROJECT_ROOT,
    StackConfig,
    free_ports,
)
from devstack.servers.postgres import connect as postgres_connect
from tests.docs.readme_facts import section
from tests.integration.helpers import stack_variables
from tests.tools import unmeasured_environment
from tests.waiting import answers_ok, wait_for

RECIPES = section("## Разработка на платформе: рецепты")
VENV = Path(sys.executable).parent.parent
START_SECONDS = 60
AGAINST_STACK = [sys.executable, "-m", "devstack.against_stack"]
NATS_MODULE = "app/services/nats_client.py"  # where NatsService subscribes its handlers


def recipe_files() -> dict[str, str]:
    """Path -> source of every recipe block that starts with a `# path` line."""
    blocks: list[tuple[str, str]] = re.findall(
        r"```python\n# (\S+\.py)\n(.*?)```", RECIPES, re.DOTALL
    )
    return dict(blocks)


def snippet(containing: str) -> str:
    """The one recipe block (an excerpt, not a whole file) that contains `containing`."""
    blocks: list[str] = re.findall(r"```python\n( .*?)```", RECIPES, re.DOTALL)
    (block,) = [block for block in blocks if containing in block]
    return block


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found (the recipe no longer fits the code)"
    path.write_text(text.replace(old, new, 1))


def copy_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(source.read_bytes())


def follow_the_recipes(repo: Path) -> None:
    """What docs/recipes.md tells a developer to write and register."""
    for name, source in recipe_files().items():
        (repo / name).write_text(source)
    edit(
        repo / "app/models/__init__.py",
        "from app.models.system import ",
        "from app.models.note import Note\nfrom app.models.system import ",
    )
    edit(repo / "app/models/__init__.py", '__all__ = ["Base",', '__all__ = ["Base", "Note",')
    settings = repo / "app/config.py"
    edit(settings, "    @computed_field", snippet("Field(") + "\n    @computed_field")
    bus = repo / NATS_MODULE
    edit(
        bus,
        "    @staticmethod\n    async def _echo(",
        snippet("def _on_note_created") + "\n    @staticmethod\n    async def _echo(",
    )
    health_subscription = "            await connection.subscribe(self._health_subject,"
    edit(bus, health_subscription, snippet("cb=self._on_note_created") + health_subscription)
    routes = repo / "app/api/routes/__init__.py"
    edit(routes, "import bus, cache, health,", "import bus, cache, health, notes,")
    edit(routes, "workflows, bus, cache)", "workflows, bus, cache, notes)")
    registration = repo / "app/temporal/registration.py"
    edit(
        registration,
        "from app.activities.test_activity import compose_greeting\n",
        "from app.activities.notes import count_words\n"
        "from app.activities.test_activity import compose_greeting\n",
    )
    edit(
        registration,
        "from app.workflows.test_workflow import TestWorkflow\n",
        "from app.workflows.notes import CountWordsWorkflow\n"
        "from app.workflows.test_workflow import TestWorkflow\n",
    )
    edit(
        registration,
        "WORKFLOWS: Sequence[type] = [",
        "WORKFLOWS: Sequence[type] = [CountWordsWorkflow, ",
    )
    edit(
        registration,
        "ACTIVITIES: Sequence[Callable[..., Any]] = [",
        "ACTIVITIES: Sequence[Callable[..., Any]] = [count_words, ",
    )


def make(repo: Path, environment: dict[str, str], *arguments: str) -> str:
    return run(["make", "--no-print-directory", f"VENV={VENV}", *arguments], repo, environment)


def completed(
    command: list[str], repo: Path, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run(command: list[str], repo: Path, environment: dict[str, str] | None = None) -> str:
    """Its output; the test fails with that output when it exits non-zero."""
    done = completed(command, repo, environment)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def new_migrations(repo: Path) -> list[Path]:
    return [
        path
        for path in (repo / "alembic/versions").glob("*.py")
        if not (PROJECT_ROOT / "alembic/versions" / path.name).exists()
    ]


def schema_state(stack: StackConfig) -> tuple[str, bool]:
    with postgres_connect(stack, DATABASE_NAME) as connection:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        notes = connection.execute("SELECT to_regclass('public.notes')").fetchone()
    assert revision is not None
    assert notes is not None
    return revision[0], notes[0] is not None


def lint(repo: Path, files: list[str]) -> None:
    for command in (
        ["ruff", "check", *files],
        ["ruff", "format", "--check", *files],
        ["mypy", *files],
    ):
        run([sys.executable, "-m", *command], repo, unmeasured_environment())


# The recipe's service against a port where nothing listens: the failure arrives translated.
SEARCH_PROBE = """
import asyncio

from app.config import Settings
from app.services.errors import DependencyUnavailableError
from app.services.search import SearchService


async def main() -> None:
    service = SearchService(Settings())
    try:
        await service.ping()
    except DependencyUnavailableError as error:
        print(error.dependency, type(error.__cause__).__name__)
    finally:
        await service.close()


asyncio.run(main())
"""


def probe_new_dependency(repo: Path, environment: dict[str, str]) -> str:
    closed_port = free_ports(1)[0]
    probe_environment = {**environment, "SEARCH_URL": f"http://{HOST}:{closed_port}"}
    return run([sys.executable, "-c", SEARCH_PROBE], repo, probe_environment).strip()


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    copy_repository(repo)
    return repo


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, each in a session of its own: stopped with all their children."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(10)


def start(
    background: list[subprocess.Popen[bytes]],
    command: list[str],
    repo: Path,
    environment: dict[str, str],
    log: Path,
) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        child = subprocess.Popen(
            command,
            cwd=repo,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    background.append(child)
    return child


def test_the_recipes_work_as_written(
    stack: StackConfig, scratch: Path, background: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    environment = stack_variables(stack)
    head_before, _ = schema_state(stack)

    # The models and the migrations agree before anything is added: autogenerate finds nothing.
    make(scratch, environment, "migration", "NAME=nothing_changed")
    (empty,) = new_migrations(scratch)
    assert "op." not in empty.read_text(), empty.read_text()
    empty.unlink()

    follow_the_recipes(scratch)
    make(scratch, environment, "migration", "NAME=add_notes")
    (migration,) = new_migrations(scratch)
    assert migration.name.endswith("_add_notes.py")
    generated = migration.read_text()
    assert 'op.create_table(\n        "notes"' in generated, generated
    assert f'down_revision: str | None = "{head_before}"' in generated, generated
    # The recipes' code and the generated migration (its post-write hooks) pass `make lint`.
    edited = [
        "app/config.py",
        NATS_MODULE,
        "app/temporal/registration.py",
        "app/api/routes/__init__.py",
    ]
    lint(scratch, [migration.relative_to(scratch).as_posix(), *recipe_files(), *edited])
    assert probe_new_dependency(scratch, environment) == "search ConnectError"

    try:
        make(scratch, environment, "migrate")
        head_after, has_notes = schema_state(stack)
        assert (head_after != head_before, has_notes) == (True, True)
        serve_notes_and_run_the_workflow(stack, scratch, environment, background, tmp_path)
    finally:
        for child in background:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        run(
            [*AGAINST_STACK, str(VENV / "bin/alembic"), "downgrade", head_before],
            scratch,
            environment,
        )
    assert schema_state(stack) == (head_before, False)


def serve_notes_and_run_the_workflow(
    stack: StackConfig,
    scratch: Path,
    environment: dict[str, str],
    background: list[subprocess.Popen[bytes]],
    logs: Path,
) -> None:
    queue = f"recipes-{uuid.uuid4().hex[:8]}"
    dev_port, metrics_port, health_port = free_ports(3)
    dev_log = logs / "make-dev.log"
    dev = start(
        background,
        ["make", "--no-print-directory", f"VENV={VENV}", "dev", f"DEV_PORT={dev_port}"],
        scratch,
        {**environment, "NOTES_MAX_LENGTH": "20"},
        dev_log,
    )
    dev_url = f"http://{HOST}:{dev_port}"

    def dev_ready() -> bool:
        assert dev.poll() is None, dev_log.read_text()
        return answers_ok(f"{dev_url}/health/ready", timeout=2)

    wait_for(dev_ready, START_SECONDS, "make dev serving")
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    with httpx.Client(base_url=dev_url, timeout=30) as api:
        created = api.post("/notes", json={"text": "one two three"}, headers=auth)
        assert created.status_code == 201, created.text
        note = created.json()
        assert api.get(f"/notes/{note['id']}").json() == note
        assert api.get("/notes/999999999").status_code == 404
        assert api.post("/notes", json={"text": "x" * 21}, headers=auth).status_code == 422
        assert api.post("/notes", json={"text": "no token"}).status_code == 401

    # The subscriber: a message on its subject reaches the handler of the `make dev` API.
    asyncio.run(publish(stack, "notes.created", b"one two three"))
    wait_for(lambda: "note created" in dev_log.read_text(), 10, "the subscriber's log line")

    with httpx.Client(base_url=dev_url, timeout=30) as api:
        # --reload: a route added to the module answers without restarting `make dev`.
        routes = scratch / "app/api/routes/notes.py"
        routes.write_text(
            routes.read_text()
            + '\n\n@router.get("/reloaded/check")\nasync def reloaded() -> str:\n    return "yes"\n'
        )
        wait_for(lambda: answers_ok(f"{dev_url}/notes/reloaded/check"), 30, "the reloaded route")
    assert "WatchFiles detected changes" in dev_log.read_text()

    # The worker with the new workflow registered, on a queue of its own.
    worker_log = logs / "worker.log"
    worker_environment = {
        **environment,
        **stack.app_environment(),
        "TEMPORAL_TASK_QUEUE": queue,
        "WORKER_METRICS_PORT": str(metrics_port),
        "WORKER_HEALTH_PORT": str(health_port),
    }
    worker = start(
        background, [sys.executable, "run_worker.py"], scratch, worker_environment, worker_log
    )

    def worker_ready() -> bool:
        assert worker.poll() is None, worker_log.read_text()
        return answers_ok(f"http://{HOST}:{health_port}/health/ready", timeout=2)

    wait_for(worker_ready, START_SECONDS, "the scratch worker ready")
    assert asyncio.run(count_words(stack, queue, note["text"])) == 3


async def publish(stack: StackConfig, subject: str, payload: bytes) -> None:
    connection = await nats.connect(stack.app_environment()["NATS_URL"], connect_timeout=5)
    try:
        await connection.publish(subject, payload)
        await connection.flush(timeout=5)
    finally:
        await connection.close()


async def count_words(stack: StackConfig, queue: str, text: str) -> int:
    """The new workflow by its type name, as any client starts it, on the scratch worker's queue."""
    client = await Client.connect(f"{HOST}:{stack.ports['temporal']}")
    words: int = await client.execute_workflow(
        "CountWordsWorkflow",
        {"text": text},
        id=f"recipes-{uuid.uuid4().hex}",
        task_queue=queue,
        execution_timeout=timedelta(seconds=60),
        result_type=int,
    )
    return words


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["migration"], "usage: make migration NAME="),
        (["migration", "NAME=add_notes"], "run 'make up' first"),
        (["migrate"], "run 'make up' first"),
        (["dev"], "run 'make up' first"),
    ],
)
def test_development_targets_say_what_is_missing(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    """No stack in this state directory: nothing starts, and the message says what to do."""
    ports = dict(zip(PORT_VARIABLES, free_ports(len(PORT_VARIABLES)), strict=True))
    nowhere = StackConfig(tmp_path, ports)
    dev_port = free_ports(1)[0]
    done = completed(
        ["make", "--no-print-directory", f"VENV={VENV}", *arguments, f"DEV_PORT={dev_port}"],
        PROJECT_ROOT,
        stack_variables(nowhere),
    )
    assert done.returncode != 0
    assert message in done.stdout + done.stderr
    assert list((PROJECT_ROOT / "alembic/versions").glob("*_add_notes.py")) == []
