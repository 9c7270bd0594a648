"""Start the Temporal worker (TestWorkflow on the configured task queue)."""

import asyncio

from app.config import get_settings
from app.logging_setup import configure_logging
from app.process_exit import exit_without_finalizing
from app.temporal.worker import run_worker

if __name__ == "__main__":
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    exit_without_finalizing(asyncio.run(run_worker(settings)))
