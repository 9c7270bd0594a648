"""Start the API with uvicorn: one process, settings from the environment (no migrations)."""

import uvicorn

from app.config import Settings, get_settings
from app.logging_setup import configure_logging


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        "app.api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    serve(get_settings())
