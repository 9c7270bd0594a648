"""Start the Temporal worker (TestWorkflow on the configured task queue)."""

import asyncio
import sys

from app.config import get_settings
from app.logging_setup import configure_logging
from app.temporal.worker import run_worker

if __name__ == "__main__":
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    sys.exit(asyncio.run(run_worker(settings)))
