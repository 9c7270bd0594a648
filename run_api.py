"""Start the API with uvicorn: one process, settings from the environment (no migrations)."""

from app.api.server import serve
from app.config import get_settings
from app.logging_setup import configure_logging

if __name__ == "__main__":
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve(settings)
