"""Start the API with uvicorn: one process, settings from the environment (no migrations).

The code is `app.entrypoints.api_server`.
"""

from app.entrypoints import api_server

if __name__ == "__main__":
    api_server()
