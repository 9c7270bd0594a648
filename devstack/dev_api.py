"""The API app `make dev` serves with uvicorn's `--reload`, logging configured as in production.

uvicorn re-imports this factory in a fresh process after every change under `app/`; the
production server (`app/api/server.py`) has no reload and is what `make up` runs.
"""

from fastapi import FastAPI

from app.api.main import create_app
from app.config import get_settings
from app.logging_setup import configure_logging


def create() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
