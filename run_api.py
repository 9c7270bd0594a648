"""Start the API with uvicorn: one process, settings from the environment (no migrations)."""

from app.api.server import serve
from app.config import get_settings
from app.logging_setup import configure_logging
from app.process_exit import exit_without_finalizing

if __name__ == "__main__":
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve(settings)
    exit_without_finalizing(0)
