"""Container entry point of the API: wait for PostgreSQL, migrate under a lock, then serve.

`python entrypoint.py --migrate-only` migrates and exits (for a Job or a manual run).
"""

import argparse
import logging

from app.api.server import serve
from app.config import get_settings
from app.logging_setup import configure_logging
from app.migrations import DatabaseUnavailableError, migrate, wait_for_database
from app.process_exit import exit_without_finalizing

logger = logging.getLogger("sbs.entrypoint")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--migrate-only", action="store_true", help="migrate and exit")
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        wait_for_database(settings)
        outcome = migrate(settings)
    except (DatabaseUnavailableError, TimeoutError) as error:
        logger.error("migration failed: %s", error)
        return 1
    logger.info("migrations done: %s", outcome)
    if args.migrate_only:
        return 0

    serve(settings)
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
