"""The platform's processes: `sbs-api`, `sbs-worker`, `sbs-migrate` (`[project.scripts]`).

The spec's scripts call these: `entrypoint.py` is `api` (wait for PostgreSQL, migrate under a
lock, then serve; `--migrate-only` stops after the migrations), `run_api.py` is `api_server`
(serve without migrating), `run_worker.py` is `worker`. Each reads the settings and configures
logging once, here, then leaves through `exit_without_finalizing` (the Temporal SDK's threads
can crash the interpreter's finalization). Each imports only what its process runs: the
worker never loads the web server, `sbs-migrate` neither of them.
"""

import argparse
import asyncio
import logging
from typing import NoReturn

from app.config import Settings, get_settings
from app.logging_setup import configure_logging
from app.process_exit import exit_without_finalizing

logger = logging.getLogger("sbs.entrypoint")


def _start(
    description: str, argv: list[str] | None, *, migrate_only_option: bool = False
) -> tuple[argparse.Namespace, Settings]:
    """Parse the command line, read the settings, configure logging: the same for every process."""
    parser = argparse.ArgumentParser(description=description)
    if migrate_only_option:
        parser.add_argument("--migrate-only", action="store_true", help="migrate and exit")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return args, settings


def _migrate(settings: Settings) -> bool:
    """Wait for PostgreSQL, then bring the schema to head; False (logged) when that failed."""
    from app import migrations

    try:
        migrations.wait_for_database(settings)
        outcome = migrations.migrate(settings)
    except (migrations.DatabaseUnavailableError, TimeoutError) as error:
        logger.error("migration failed: %s", error)
        return False
    logger.info("migrations done: %s", outcome)
    return True


def _serve(settings: Settings) -> None:
    from app.api.server import serve

    serve(settings)


def api(argv: list[str] | None = None) -> NoReturn:
    """`sbs-api` / `python entrypoint.py [--migrate-only]`."""
    args, settings = _start(
        "Wait for PostgreSQL, apply the migrations under a lock, then serve the API.",
        argv,
        migrate_only_option=True,
    )
    if not _migrate(settings):
        exit_without_finalizing(1)
    if not args.migrate_only:
        _serve(settings)
    exit_without_finalizing(0)


def api_server(argv: list[str] | None = None) -> NoReturn:
    """`python run_api.py`: serve the API with uvicorn, without migrating."""
    _, settings = _start("Serve the API with uvicorn, without migrating.", argv)
    _serve(settings)
    exit_without_finalizing(0)


def migrate(argv: list[str] | None = None) -> NoReturn:
    """`sbs-migrate`: wait for PostgreSQL, apply the migrations under a lock, exit."""
    _, settings = _start("Wait for PostgreSQL and apply the migrations under a lock.", argv)
    exit_without_finalizing(0 if _migrate(settings) else 1)


def worker(argv: list[str] | None = None) -> NoReturn:
    """`sbs-worker` / `python run_worker.py`: the Temporal worker until SIGTERM."""
    _, settings = _start("Run the Temporal worker until SIGTERM.", argv)
    from app.temporal.worker import run_worker

    exit_without_finalizing(asyncio.run(run_worker(settings)))
